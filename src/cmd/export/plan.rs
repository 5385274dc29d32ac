//! From `export` flags to a checked plan: times parsed, the contact resolved to a
//! fingerprint, the output and files folders decided. Nothing is read or written here
//! except the contacts.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::cli::{DirectionArg, ExportArgs, ExportFormat};
use crate::config::parse_duration;
use crate::error::{Exit, Fail, WithHint, fail};
use crate::keys::{Contacts, normalize_fingerprint};
use crate::store::history::HistoryFilter;

/// What one export will do.
#[derive(Debug)]
pub struct Plan {
    pub format: ExportFormat,
    pub output: Option<PathBuf>,
    pub files_dir: Option<PathBuf>,
    pub filter: HistoryFilter,
}

pub fn plan(args: ExportArgs, contacts: &Contacts, now: u64) -> Result<Plan> {
    let with = match &args.with {
        Some(key) => Some(resolve_contact(contacts, key)?),
        None => None,
    };
    let since = time_flag("--since", args.since.as_deref(), now)?;
    let until = time_flag("--until", args.until.as_deref(), now)?;
    if let Some(k) = args.kind.iter().find(|k| k.is_empty()) {
        return Err(fail(Exit::Usage, format!("bad --kind {k:?}"))).hint("e.g. --kind text");
    }
    if let Some(p) = &args.output
        && p.file_name().is_none()
    {
        return Err(fail(
            Exit::Usage,
            format!("-o {} names no file", p.display()),
        ));
    }
    Ok(Plan {
        format: args.format,
        output: args.output,
        files_dir: args.files_dir,
        filter: HistoryFilter {
            with,
            group: args.group,
            since,
            until,
            direction: args.direction.map(|d| {
                match d {
                    DirectionArg::Sent => "out",
                    DirectionArg::Received => "in",
                }
                .to_string()
            }),
            kinds: args.kind,
            limit: args.limit,
        },
    })
}

/// A contact's fingerprint by name or fingerprint; a full fingerprint of someone who is
/// not (or no longer) a contact is taken as it is, so strangers' messages can be found.
fn resolve_contact(contacts: &Contacts, key: &str) -> Result<String> {
    if let Some(c) = contacts.find(key)? {
        return Ok(c.fingerprint);
    }
    let fp = normalize_fingerprint(key);
    if fp.len() >= 32 && fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(fp);
    }
    contacts.get(key).map(|c| c.fingerprint)
}

fn time_flag(flag: &str, text: Option<&str>, now: u64) -> Result<Option<u64>> {
    match text {
        None => Ok(None),
        Some(t) => parse_when(t, now)
            .context(Fail(Exit::Usage, format!("bad {flag} {t:?}")))
            .hint("give a date (2026-11-01, 2026-11-01T09:30:00Z) or a duration ago (7d, 2h)")
            .map(Some),
    }
}

/// A point in time (Unix seconds): an RFC 3339 date or date-time (UTC when it names no
/// offset), or a duration back from `now` (`7d`, `2h`, a bare number of seconds).
pub fn parse_when(text: &str, now: u64) -> Result<u64> {
    let t = text.trim();
    let b = t.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[..4].iter().all(u8::is_ascii_digit) {
        return parse_rfc3339(t);
    }
    let d = parse_duration(t)?;
    Ok(now.saturating_sub(d))
}

fn parse_rfc3339(t: &str) -> Result<u64> {
    let num = |s: &str, what: &str| -> Result<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("{what} {s:?} is not a number");
        }
        Ok(s.parse()?)
    };
    let date = t.get(..10).context("too short")?;
    let (y, m, d) = (
        num(&date[..4], "year")?,
        num(date.get(5..7).unwrap_or(""), "month")?,
        num(date.get(8..10).unwrap_or(""), "day")?,
    );
    if &date[7..8] != "-" || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        anyhow::bail!("{date:?} is not a date");
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    let rest = &t[10..];
    if !rest.is_empty() {
        let rest = rest
            .strip_prefix(['T', 't', ' '])
            .context("the time must follow a T")?;
        // The offset starts at Z, + or - (after the seconds and any fraction).
        let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, offset) = rest.split_at(split);
        let clock = clock.split('.').next().unwrap_or("");
        let parts: Vec<&str> = clock.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            anyhow::bail!("{clock:?} is not a time of day (HH:MM or HH:MM:SS)");
        }
        let (h, mi) = (num(parts[0], "hour")?, num(parts[1], "minute")?);
        let s = parts.get(2).map_or(Ok(0), |s| num(s, "second"))?;
        if h > 23 || mi > 59 || s > 60 {
            anyhow::bail!("{clock:?} is not a time of day");
        }
        secs += h * 3600 + mi * 60 + s;
        match offset {
            "" | "Z" | "z" => {}
            o => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (oh, om) = o[1..].split_once(':').context("offset must be ±HH:MM")?;
                let (oh, om) = (num(oh, "offset hour")?, num(om, "offset minute")?);
                if oh > 23 || om > 59 {
                    anyhow::bail!("{o:?} is not an offset");
                }
                secs -= sign * (oh * 3600 + om * 60);
            }
        }
    }
    u64::try_from(secs).context("before 1970")
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's days-from-civil, the inverse of `output::utc`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_durations() {
        let now = 1_795_306_880;
        assert_eq!(parse_when("1970-01-01", now).unwrap(), 0);
        assert_eq!(parse_when("2000-02-29", now).unwrap(), 951_782_400);
        assert_eq!(
            parse_when("2026-11-22T00:21:20Z", now).unwrap(),
            1_795_306_880
        );
        assert_eq!(
            parse_when("2026-11-22T02:21:20.5+02:00", now).unwrap(),
            1_795_306_880
        );
        assert_eq!(
            parse_when("2026-11-21 19:21:20-05:00", now).unwrap(),
            1_795_306_880
        );
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400);
        assert_eq!(parse_when("2h", now).unwrap(), now - 7200);
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "2026-11-01T25:00Z",
            "2026-11-01X10:00",
            "yesterday",
            "7y",
            "1969-12-31",
        ] {
            assert!(parse_when(bad, now).is_err(), "{bad}");
        }
    }
}
