//! Tests of the relay settings: precedence, the file, and refusals.

use super::*;

fn home() -> (tempfile::TempDir, Home) {
    let d = tempfile::tempdir().unwrap();
    let h = Home::at(d.path());
    (d, h)
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("90").unwrap(), 90);
    assert_eq!(parse_duration("30m").unwrap(), 1800);
    assert_eq!(parse_duration("14d").unwrap(), 14 * DAY);
    assert_eq!(parse_duration("2w").unwrap(), 14 * DAY);
    assert!(parse_duration("5y").is_err());
    assert!(parse_duration("h").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn flags_beat_file_beats_defaults() {
    let (_d, h) = home();
    let file = parse_file(
        "[send]\nttl = \"1d\"\n[serve]\nrate = 7\nmax_body = 2048\nmax_ttl = \"2d\"\nlisten = \"0.0.0.0:1\"\n",
        &h.config,
    )
    .unwrap();
    let args = ServeRunArgs {
        rate: Some(9),
        max_ttl: Some("1h".into()),
        ..Default::default()
    };
    let c = resolve(&args, file, &h).unwrap();
    assert_eq!(c.rate, 9, "flag wins over file");
    assert_eq!(c.max_body, 2048, "file wins over default");
    assert_eq!(c.max_ttl, 3600);
    assert_eq!(c.default_ttl, 3600, "default ttl is clamped to the max");
    assert_eq!(c.listen.to_string(), "0.0.0.0:1");
    assert_eq!(c.max_envelopes, 10_000, "default");
    assert_eq!(c.db, h.relay_db_path());
    assert_eq!(c.admission(), "open");
}

#[test]
fn unknown_key_is_named() {
    let (_d, h) = home();
    let err = parse_file("[serve]\nmax_bdy = 1\n", &h.config).unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("max_bdy"), "{text}");
    assert_eq!(crate::error::exit_code(&err), Exit::Usage);
}

#[test]
fn bad_values_are_refused() {
    let (_d, h) = home();
    let args = ServeRunArgs {
        listen: Some("nowhere".into()),
        ..Default::default()
    };
    assert!(resolve(&args, FileServe::default(), &h).is_err());
    let args = ServeRunArgs {
        max_ttl: Some("1h".into()),
        default_ttl: Some("2h".into()),
        ..Default::default()
    };
    assert!(resolve(&args, FileServe::default(), &h).is_err());
    let args = ServeRunArgs {
        max_body: Some(0),
        ..Default::default()
    };
    assert!(resolve(&args, FileServe::default(), &h).is_err());
}

#[test]
fn password_file_is_read_and_relative_paths_follow_the_file() {
    let (d, h) = home();
    std::fs::write(d.path().join("pass"), "s3cret\n").unwrap();
    let file = parse_file(
        "[serve]\npassword_file = \"pass\"\ndb = \"r.sqlite\"\n",
        &h.config,
    )
    .unwrap();
    let c = resolve(&ServeRunArgs::default(), file, &h).unwrap();
    assert_eq!(c.password.as_deref(), Some("s3cret"));
    assert_eq!(c.db, d.path().join("r.sqlite"));
    assert_eq!(c.admission(), "password");
}

#[test]
fn names_proxies_and_source_limits_from_file_and_flags() {
    let (_d, h) = home();
    let file = parse_file(
        "[serve]\npublic_url = \"https://a.example\"\npublic_urls = [\"http://b.example:8080\"]\n\
         trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\nwrite_timeout = \"5s\"\n\
         max_connections_per_source = 8\nmax_bytes_per_source_hour = 1000\n",
        &h.config,
    )
    .unwrap();
    let c = resolve(&ServeRunArgs::default(), file, &h).unwrap();
    assert_eq!(
        c.public_urls,
        ["https://a.example", "http://b.example:8080"]
    );
    assert_eq!(c.trusted_proxies.len(), 2);
    assert_eq!(c.write_timeout, Duration::from_secs(5));
    assert_eq!(
        (c.max_connections_per_source, c.max_bytes_per_source_hour),
        (8, 1000)
    );
    let args = ServeRunArgs {
        public_urls: vec!["https://c.example".into()],
        ..Default::default()
    };
    let file = parse_file("[serve]\npublic_url = \"https://a.example\"\n", &h.config).unwrap();
    let c = resolve(&args, file, &h).unwrap();
    assert_eq!(
        c.public_urls,
        ["https://c.example"],
        "flags replace the file's list"
    );
    for bad in [
        ServeRunArgs {
            public_urls: vec!["relay.example".into()],
            ..Default::default()
        },
        ServeRunArgs {
            trusted_proxies: vec!["10.0.0.0/99".into()],
            ..Default::default()
        },
        ServeRunArgs {
            max_connections_per_source: Some(0),
            ..Default::default()
        },
    ] {
        let err = resolve(&bad, FileServe::default(), &h).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), Exit::Usage, "{err:#}");
    }
}
