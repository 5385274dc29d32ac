//! Command-line definitions, and nothing else: this module imports nothing from the crate,
//! so the man pages and completions are generated from it without side effects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod group;
pub use group::*;

const EXIT_STATUS: &str = "\
Exit status:
  0  success
  1  failure
  2  usage error: bad flag, argument or input line
  3  a relay or tracker could not be reached
  4  authentication or crypto failure: bad signature, wrong key, key change
  5  not found: unknown contact, group or identity
  6  partial: some recipients or relays failed (the JSON says which)
  7  another run holds the lock (recv --no-wait)

Files and environment:
  PIGEON_HOME           keep everything in this folder (else $XDG_DATA_HOME/pigeon
                        and $XDG_CONFIG_HOME/pigeon)
  config.toml           settings in the config folder; flags > PIGEON_* env > file > defaults
  PIGEON_PASSPHRASE     passphrase protecting the identity's secret keys
  PIGEON_TRACKER        trackers to use, comma-separated (else [tracker] urls)
  NO_COLOR              no colour on stderr";

/// End-to-end encrypted, store-and-forward messenger for the command line
///
/// Every command that produces data writes JSON Lines on stdout (one object per line, each
/// with a "type"); messages for people go to stderr.
#[derive(Debug, Parser)]
#[command(name = "pigeon", version, after_help = EXIT_STATUS, max_term_width = 100)]
pub struct Cli {
    /// Print only errors on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Keygen(KeygenArgs),
    Card(CardArgs),
    Rename(RenameArgs),
    #[command(subcommand)]
    Contact(ContactCommand),
    #[command(subcommand)]
    Relay(RelayCommand),
    Seal(SealArgs),
    Open(OpenArgs),
    Send(SendArgs),
    Recv(RecvArgs),
    Serve(ServeArgs),
    Export(ExportArgs),
    #[command(subcommand)]
    Archive(ArchiveCommand),
    #[command(subcommand)]
    Tracker(TrackerCommand),
    #[command(subcommand)]
    Group(GroupCommand),
    #[command(subcommand)]
    Web(WebCommand),
    #[command(subcommand)]
    Outbox(OutboxCommand),
    #[command(hide = true)]
    Gen(GenArgs),
}

/// Identity kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// X25519 (age) for encryption and Ed25519 for signatures
    Age,
    /// An OpenPGP certificate that GnuPG 2.2 reads
    Pgp,
}

/// Create your identity (or import one from GnuPG)
///
/// Prints one JSON line: {"type":"identity","kind","name","fingerprint","mailbox"}.
/// Secret keys are written 0600, atomically; set PIGEON_PASSPHRASE or use
/// --passphrase-file to protect them with a passphrase.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon keygen --name alice
  pigeon keygen --name alice --kind pgp
  gpg --armor --export-secret-keys me@example.org | pigeon keygen --kind pgp --import -")]
pub struct KeygenArgs {
    /// The name on your card (defaults to the name in an imported key)
    #[arg(long)]
    pub name: Option<String>,
    /// Kind of identity
    #[arg(long, value_enum, default_value_t = KindArg::Age)]
    pub kind: KindArg,
    /// Import an OpenPGP secret key (a file, or - for stdin) instead of generating one
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// Read the passphrase of the imported key from this file (else PIGEON_GPG_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub import_passphrase_file: Option<PathBuf>,
    /// Protect the secret keys with the passphrase in this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Replace an existing identity (the old secret keys are lost)
    #[arg(long)]
    pub force: bool,
}

/// Print your signed card: the public half of your identity, one JSON line
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon card > alice.card
  pigeon contact add < alice.card     # on a friend's machine")]
pub struct CardArgs {
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Change the name on your card, keeping your keys (and so your fingerprint and mailbox)
///
/// For a name a tracker says is taken (`name_taken`): contacts who pinned you keep you by
/// fingerprint and see the new name on your next card. Prints
/// {"type":"identity","name","previous","fingerprint","seq"}; then announce the new card.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon rename alice-smith
  pigeon tracker announce          # publish the card with the new name")]
pub struct RenameArgs {
    /// The new name (letters, digits and . _ - @ +, at most 64)
    pub name: String,
}

/// Manage contacts: cards you have accepted, pinned by fingerprint
#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Pin a card read from a file or stdin (trust on first use)
    ///
    /// A card for a known name with a different key is refused (exit 4) unless
    /// --accept-new-key is given.
    Add {
        /// The card file (default: stdin)
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Store it under this name instead of the name on the card
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// Accept a card whose key differs from the pinned one
        #[arg(long)]
        accept_new_key: bool,
    },
    /// List contacts, one JSON line each
    List,
    /// Show one contact with its card
    Show {
        /// Contact name or fingerprint
        name: String,
    },
    /// Forget a contact
    Remove {
        /// Contact name or fingerprint
        name: String,
    },
    /// Record that you checked a contact's fingerprint out of band
    Verify {
        /// Contact name or fingerprint
        name: String,
        /// The fingerprint you were told (spaces and case do not matter)
        #[arg(long)]
        fingerprint: String,
    },
}

/// Manage the relays your card lists (each change bumps the card's seq)
#[derive(Debug, Subcommand)]
pub enum RelayCommand {
    /// Add a relay URL to your card
    Add {
        /// The relay's base URL, e.g. http://pi.local:7447
        url: String,
    },
    /// Move a relay URL on your card to "draining": senders stop, you still read it
    ///
    /// Your card lists it under "draining" (announce the new card with `pigeon tracker
    /// announce`, or give it to your contacts), so senders post to your other relays while
    /// `recv` keeps reading this one. Once it has been draining for `drain_for` ([recv] in
    /// config.toml, default 14d) and is empty, recv drops it from the card and says so.
    /// With --now it is dropped at once and nothing on it is read any more.
    #[command(after_help = "Examples:
  pigeon relay add https://new.example.org
  pigeon relay remove https://old.example.org       # drain it
  pigeon tracker announce                           # senders follow the new card")]
    Remove {
        /// The relay's base URL
        url: String,
        /// Drop it at once instead of draining it (what waits there is not read)
        #[arg(long)]
        now: bool,
    },
    /// List your relays, one JSON line each (draining ones with "draining":true and "since")
    List,
}

/// Encrypt and sign a message to contacts, offline, writing the ciphertext to stdout
///
/// The output is a standard age file (age contacts) or OpenPGP message (pgp contacts), so
/// `age -d` or `gpg -d` can open it. All recipients must be of one kind.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  echo hello | pigeon seal --to bob > hello.age
  pigeon open hello.age                # on bob's machine")]
pub struct SealArgs {
    /// Recipient contact name or fingerprint (repeatable)
    #[arg(long, required = true, value_name = "NAME")]
    pub to: Vec<String>,
    /// The message text (default: stdin)
    pub body: Option<String>,
    /// ASCII-armour the output
    #[arg(long)]
    pub armor: bool,
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Decrypt and verify one ciphertext (pigeon's, age's or gpg's) and print it as JSON
///
/// A message whose signature does not verify is refused (exit 4). Ciphertext with no
/// signature at all (plain `age -r`) is refused unless --allow-unsigned is given, and is
/// then printed with "verified":false.
#[derive(Debug, Args)]
pub struct OpenArgs {
    /// The ciphertext file (default: stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print unsigned ciphertext, marked "verified":false
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Send a message to contacts through their relays
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon send --to bob \"the backup finished\"
  df -h | pigeon send --to bob --to carol
  pigeon send --to bob --file report.pdf \"weekly report\"
  pigeon send --json < batch.jsonl     # {\"to\":[\"bob\"],\"body\":\"…\",\"files\":[\"a.png\"],\"ttl\":\"2d\"}
  pigeon send --group ops \"deploy at 5\"   # or {\"group\":\"ops\",\"body\":\"…\"} with --json
  pigeon send --retry                  # deliver what waits in the outbox
  pigeon send --to bob@tracker \"hi\"    # look bob up on the trackers, pin him, send

With trackers configured, a contact's card older than refresh_after ([tracker] in
config.toml, default 1d) is fetched again before sending, and at once when every relay
on it fails; the message then goes to the relays of the newer card in the same run.

The new message goes first; then what earlier sends left in the outbox is tried for at
most retry_deadline seconds ([send] in config.toml, default 3). stdout holds one sent
line per new message (--report-retries adds a retried line per queued message); each
delivery that failed is one line on stderr. A relay that asks to wait more than 3 s
(Retry-After) gets the delivery left queued. `pigeon outbox list` shows what waits,
`pigeon outbox drop ID` gives a message up.

With --json, a line that is not a message (bad JSON, an unknown field, no body and no
files, an unknown recipient) stops the run: the lines before it were sent, none after;
stdout gets {\"type\":\"error\",\"line\":N,\"error\":\"…\"} after their sent lines.")]
pub struct SendArgs {
    /// Recipient contact name or fingerprint (repeatable)
    #[arg(long, value_name = "NAME")]
    pub to: Vec<String>,
    /// Send to every member of this group (its name or id), sealed once per key kind
    #[arg(long, value_name = "GROUP", conflicts_with = "to")]
    pub group: Option<String>,
    /// Attach a file (repeatable)
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
    /// The message text (default: stdin)
    pub body: Option<String>,
    /// Read one JSON message per line from stdin
    #[arg(long, conflicts_with_all = ["to", "group", "file", "body"])]
    pub json: bool,
    /// Only deliver what waits in the outbox (retried and expired lines on stdout)
    #[arg(long, conflicts_with_all = ["to", "group", "file", "body", "json"])]
    pub retry: bool,
    /// Also print a retried or expired line per queued message retried after this one
    #[arg(long, conflicts_with = "retry")]
    pub report_retries: bool,
    /// The id of the message this one answers
    #[arg(long, value_name = "ID")]
    pub reply_to: Option<String>,
    /// How long relays keep it: 30m, 12h, 2d (default: the relay's)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub trackers: TrackerUrls,
}

/// Deliveries that wait for a relay: list them, or drop one
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List queued deliveries, one JSON line each
    ///
    /// Each line is {"type":"queued","id","to","relay","attempts","last_error",
    /// "queued_since"} (queued_since: Unix seconds), oldest first.
    List,
    /// Give up a queued message: its deliveries leave the outbox
    ///
    /// Prints one {"type":"dropped","id","deliveries":[…]} line; the history (export)
    /// shows those deliveries as not delivered. An id with nothing queued is exit 5.
    Drop {
        /// The message id (from `pigeon outbox list` or a sent line)
        id: String,
        /// Only its delivery to this relay
        #[arg(long, value_name = "URL")]
        relay: Option<String>,
    },
}

/// Output formats of recv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecvFormat {
    /// One JSON object per line
    Json,
    /// For people
    Text,
}

/// Fetch, verify and decrypt your messages, then print them
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon recv                          # JSON Lines, then exit (cron)
  pigeon recv --follow                 # stream as messages arrive
  pigeon recv --exec ./on-message.sh   # run a command per message
  pigeon recv --keep-for 7d            # leave them on the relays a week (other devices)
  pigeon recv --group ops              # only that group's messages
  pigeon recv --format text")]
pub struct RecvArgs {
    /// Keep running and print messages as they arrive
    #[arg(long)]
    pub follow: bool,
    /// Run this command per message (the message JSON on its stdin; PIGEON_ID, PIGEON_FROM,
    /// PIGEON_KIND, PIGEON_GROUP, PIGEON_BODY_FILE… in its environment)
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = RecvFormat::Json)]
    pub format: RecvFormat,
    /// Leave messages on the relays
    #[arg(long)]
    pub keep: bool,
    /// Leave messages on the relays this long (30m, 12h, 7d), for your other devices to
    /// read; a later run acknowledges them once the relay has held them that long. Each
    /// message is still printed once [default: keep_for in [recv] of config.toml]
    #[arg(long, value_name = "DURATION", conflicts_with = "keep")]
    pub keep_for: Option<String>,
    /// Hold back messages from senders who are not contacts
    #[arg(long)]
    pub from_contacts_only: bool,
    /// Exit 7 at once if another recv is running, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
    /// Write attachments here (default: the data dir's files/)
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
    /// Also print rejected messages as {"type":"rejected"} lines
    #[arg(long)]
    pub show_rejected: bool,
    /// Print only this group's messages (name or id); the others wait for a plain recv
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Refuse messages with an attachment larger than this (bytes; K, M, G suffixes)
    /// [default: 16M, or max_file_size in [recv] of config.toml]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: Option<u64>,
    /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// Run a relay: store encrypted envelopes until their owners fetch them
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  pigeon serve                                   # SQLite in the data dir, 127.0.0.1:7447
  pigeon serve --listen 0.0.0.0:7447 --db /var/lib/pigeon/relay.sqlite
  pigeon serve --listen 127.0.0.1:0              # a free port, printed
  pigeon serve --password-file /etc/pigeon/pass  # posting needs the password
  pigeon serve --public-url https://pigeon.example.org --trusted-proxy 127.0.0.1   # behind Caddy
  pigeon serve token --label bob --expires 30d
  pigeon serve tokens                         # what was issued; `serve revoke ID` revokes one
  pigeon serve blocks                         # blocked and locked-out addresses
  pigeon serve unblock 203.0.113.7"
)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    // Boxed: the relay has many flags and would make every `Command` that large.
    #[command(flatten)]
    pub run: Box<ServeRunArgs>,
}

/// Flags of a running relay; each also reads PIGEON_* and the [serve] table of config.toml.
///
/// Durations are seconds or a number with a unit: 90s, 30m, 12h, 14d, 2w.
#[derive(Debug, Args, Default)]
pub struct ServeRunArgs {
    /// Address to listen on [default: 127.0.0.1:7447]
    #[arg(long, value_name = "ADDR", env = "PIGEON_LISTEN")]
    pub listen: Option<String>,
    /// The relay's SQLite database [default: relay.sqlite in the data dir]
    #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
    pub db: Option<PathBuf>,
    /// The relay's name in /v1/info [default: pigeon]
    #[arg(long, value_name = "NAME", env = "PIGEON_RELAY_NAME")]
    pub name: Option<String>,
    /// Posting needs this password (read from the file)
    #[arg(long, value_name = "FILE", env = "PIGEON_RELAY_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Posting needs a token from `pigeon serve token`
    #[arg(long, env = "PIGEON_REQUIRE_TOKEN")]
    pub require_token: bool,
    /// Also serve the web client at / (a page that talks to this relay's /v1)
    #[arg(long, env = "PIGEON_WEB")]
    pub web: bool,
    /// Who may read /metrics: open (anyone), local (loopback sources only; behind a
    /// reverse proxy, with --trusted-proxy) or off [default: open]
    #[arg(long, value_name = "WHO", env = "PIGEON_METRICS")]
    pub metrics: Option<MetricsAccess>,
    /// Run this command on every lockout, block and unblock (event JSON on stdin)
    #[arg(long, value_name = "CMD", env = "PIGEON_ON_EVENT")]
    pub on_event: Option<String>,
    /// Largest request body in bytes [default: 1048576]
    #[arg(long, value_name = "BYTES", env = "PIGEON_MAX_BODY")]
    pub max_body: Option<u64>,
    /// Envelopes kept per mailbox [default: 10000]
    #[arg(long, value_name = "N", env = "PIGEON_MAX_ENVELOPES")]
    pub max_envelopes: Option<u64>,
    /// Bytes kept per mailbox [default: 104857600]
    #[arg(long, value_name = "BYTES", env = "PIGEON_MAX_MAILBOX_BYTES")]
    pub max_mailbox_bytes: Option<u64>,
    /// Bytes kept for all mailboxes together [default: 1073741824]
    #[arg(long, value_name = "BYTES", env = "PIGEON_MAX_TOTAL_BYTES")]
    pub max_total_bytes: Option<u64>,
    /// Longest time an envelope is kept [default: 14d]
    #[arg(long, value_name = "DURATION", env = "PIGEON_MAX_TTL")]
    pub max_ttl: Option<String>,
    /// Time an envelope is kept when it names none [default: 7d, at most --max-ttl]
    #[arg(long, value_name = "DURATION", env = "PIGEON_DEFAULT_TTL")]
    pub default_ttl: Option<String>,
    /// How often expired envelopes are deleted [default: 60s]
    #[arg(long, value_name = "DURATION", env = "PIGEON_SWEEP_INTERVAL")]
    pub sweep_interval: Option<String>,
    /// Longest long-poll wait a reader may ask for [default: 60s]
    #[arg(long, value_name = "DURATION", env = "PIGEON_MAX_WAIT")]
    pub max_wait: Option<String>,
    /// Requests per second per source address, 0 for no limit [default: 50]
    #[arg(long, value_name = "N", env = "PIGEON_RATE")]
    pub rate: Option<u32>,
    /// Concurrent connections [default: 1024]
    #[arg(long, value_name = "N", env = "PIGEON_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Time a client has to send its request headers [default: 10s]
    #[arg(long, value_name = "DURATION", env = "PIGEON_HEADER_TIMEOUT")]
    pub header_timeout: Option<String>,
    /// Time a client has to send its request body [default: 30s]
    #[arg(long, value_name = "DURATION", env = "PIGEON_BODY_TIMEOUT")]
    pub body_timeout: Option<String>,
    /// Failed attempts before an address is locked out [default: 3]
    #[arg(long, value_name = "N", env = "PIGEON_MAX_FAILURES")]
    pub max_failures: Option<u32>,
    /// How long a lockout lasts [default: 10m]
    #[arg(long, value_name = "DURATION", env = "PIGEON_LOCKOUT")]
    pub lockout: Option<String>,
    /// Lockouts before an address is blocked until `pigeon serve unblock` [default: 3]
    #[arg(long, value_name = "N", env = "PIGEON_MAX_LOCKOUTS")]
    pub max_lockouts: Option<u32>,
    /// A URL clients reach this relay by (repeatable); signed requests naming another host
    /// are refused (see docs/protocol.md, "Relay names")
    #[arg(
        long = "public-url",
        value_name = "URL",
        env = "PIGEON_PUBLIC_URL",
        value_delimiter = ','
    )]
    pub public_urls: Vec<String>,
    /// A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded
    /// names the client; from anyone else those headers are ignored
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR|CIDR",
        env = "PIGEON_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Concurrent connections from one source address (trusted proxies exempt) [default: 64]
    #[arg(long, value_name = "N", env = "PIGEON_MAX_CONNECTIONS_PER_SOURCE")]
    pub max_connections_per_source: Option<u32>,
    /// Time a client may leave a reply unread before its connection is closed [default: 30s]
    #[arg(long, value_name = "DURATION", env = "PIGEON_WRITE_TIMEOUT")]
    pub write_timeout: Option<String>,
    /// Bytes one source address may store per hour, 0 for no cap [default: 0]
    #[arg(long, value_name = "BYTES", env = "PIGEON_MAX_BYTES_PER_SOURCE_HOUR")]
    pub max_bytes_per_source_hour: Option<u64>,
    /// Also serve a tracker (a directory of signed cards) on the same port: see
    /// `pigeon tracker serve --help`
    #[arg(long, env = "PIGEON_SERVE_TRACKER")]
    pub tracker: bool,
    /// The mounted tracker's SQLite database [default: tracker.sqlite in the data dir]
    #[arg(
        long,
        value_name = "PATH",
        env = "PIGEON_TRACKER_DB",
        requires = "tracker"
    )]
    pub tracker_db: Option<PathBuf>,
    /// With --tracker: another tracker to mirror cards with (repeatable), as `pigeon tracker
    /// serve --peer` does
    #[arg(
        long = "peer",
        value_name = "URL",
        env = "PIGEON_SERVE_TRACKER_PEER",
        value_delimiter = ',',
        requires = "tracker"
    )]
    pub tracker_peers: Vec<String>,
    /// Announce this relay to a tracker (repeatable) at start and every hour, under its
    /// first --public-url, so `pigeon tracker relays` lists it for newcomers
    #[arg(
        long = "announce-to",
        value_name = "TRACKER_URL",
        env = "PIGEON_ANNOUNCE_TO",
        value_delimiter = ','
    )]
    pub announce_to: Vec<String>,
}

/// pigeond: the pigeon relay on its own (`pigeon serve` without the client), for small hosts
///
/// The same relay, flags, config and database as `pigeon serve`, in a binary without the
/// messaging client: it starts faster and stays smaller in memory (a Raspberry Pi, a VPS).
#[derive(Debug, Parser)]
#[command(
    name = "pigeond",
    version,
    args_conflicts_with_subcommands = true,
    max_term_width = 100,
    after_help = "Examples:
  pigeond                                        # SQLite in the data dir, 127.0.0.1:7447
  pigeond --listen 0.0.0.0:7447 --db /var/lib/pigeon/relay.sqlite
  pigeond token --label bob --expires 30d
  pigeond unblock 203.0.113.7
  pigeond --tracker                              # a tracker beside the relay, same port
  pigeond tracker --listen 0.0.0.0:7448          # a tracker alone: pigeon tracker serve

Everything else about the relay: pigeon-serve(1); about the tracker: pigeon-tracker-serve(1)."
)]
pub struct RelayCli {
    /// Print only errors on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Option<RelaySubcommand>,
    #[command(flatten)]
    pub run: Box<ServeRunArgs>,
}

/// `pigeond`'s subcommands: the relay's own, and the tracker alone.
#[derive(Debug, Subcommand)]
pub enum RelaySubcommand {
    #[command(flatten)]
    Serve(ServeCommand),
    /// Run a tracker alone (`pigeon tracker serve`: the same flags and config)
    Tracker(Box<TrackerServeArgs>),
}

impl RelayCli {
    /// The same arguments as `pigeon serve` would have parsed, or the tracker's.
    pub fn into_serve(self) -> Result<ServeArgs, Box<TrackerServeArgs>> {
        match self.command {
            Some(RelaySubcommand::Tracker(t)) => Err(t),
            Some(RelaySubcommand::Serve(c)) => Ok(ServeArgs {
                command: Some(c),
                run: self.run,
            }),
            None => Ok(ServeArgs {
                command: None,
                run: self.run,
            }),
        }
    }
}

/// Who may read a server's `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsAccess {
    /// Anyone who can reach the server.
    #[default]
    Open,
    /// Loopback sources only (a scraper on the same host).
    Local,
    /// Nobody: 404.
    Off,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Print a posting token derived from the relay's secret
    Token {
        /// Who the token is for
        #[arg(long)]
        label: String,
        /// How long it is valid: 12h, 30d [default: 30d]
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// The relay's database (its secret lives there) [default: as for serve]
        #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
        db: Option<PathBuf>,
    },
    /// Lift the block or the lockout of a source address
    ///
    /// A running relay notices within a few seconds. `pigeon serve blocks` lists them.
    Unblock {
        /// The blocked or locked-out address (an IPv6 address stands for its /64)
        addr: String,
        /// The relay's database [default: as for serve]
        #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
        db: Option<PathBuf>,
    },
    /// List blocked and locked-out source addresses (JSON Lines)
    Blocks {
        /// The relay's database [default: as for serve]
        #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
        db: Option<PathBuf>,
    },
    /// List the posting tokens `serve token` made (ids, labels, dates; never the tokens)
    Tokens {
        /// The relay's database [default: as for serve]
        #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
        db: Option<PathBuf>,
    },
    /// Revoke one posting token: by its id from `serve tokens`, or `-` to read the token
    /// itself from stdin (a token made before ids were kept)
    ///
    /// A running relay refuses it within a few seconds; other tokens keep working.
    Revoke {
        /// The token's id (or a unique start of it, 6+ hex digits), or `-`
        id: String,
        /// The relay's database [default: as for serve]
        #[arg(long, value_name = "PATH", env = "PIGEON_DB")]
        db: Option<PathBuf>,
    },
}

/// Run a tracker: store signed cards by fingerprint and name, list relays, mirror peers
///
/// A card is stored only when its signature verifies and its seq is higher than the one
/// held; a name belongs to the first identity that claimed it until it releases it with a
/// signed request. The tracker never needs a secret key and never sees a message. The
/// limits, lockout and /metrics are the relay's; each flag also reads PIGEON_TRACKER_* or
/// the [tracker.serve] table of config.toml.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon tracker serve                                  # tracker.sqlite in the data dir, 127.0.0.1:7448
  pigeon tracker serve --listen 0.0.0.0:7448 --db /var/lib/pigeon/tracker.sqlite
  pigeon tracker serve --peer https://tracker.example.org --peer http://10.0.0.2:7448
  pigeon serve --tracker                                # a relay and a tracker on one port
  curl -s http://127.0.0.1:7448/v1/names/alice          # alice's signed card")]
pub struct TrackerServeArgs {
    /// Address to listen on [default: 127.0.0.1:7448]
    #[arg(long, value_name = "ADDR", env = "PIGEON_TRACKER_LISTEN")]
    pub listen: Option<String>,
    /// The tracker's SQLite database [default: tracker.sqlite in the data dir]
    #[arg(long, value_name = "PATH", env = "PIGEON_TRACKER_DB")]
    pub db: Option<PathBuf>,
    /// Another tracker to mirror cards with (repeatable): its cards are pulled at start and
    /// every --pull-interval, and every card stored here is pushed to it. Each is verified
    #[arg(
        long = "peer",
        value_name = "URL",
        env = "PIGEON_TRACKER_PEER",
        value_delimiter = ','
    )]
    pub peers: Vec<String>,
    /// How often peers are pulled [default: 5m]
    #[arg(long, value_name = "DURATION", env = "PIGEON_TRACKER_PULL_INTERVAL")]
    pub pull_interval: Option<String>,
    /// Largest card accepted, in bytes [default: 65536]
    #[arg(long, value_name = "BYTES", env = "PIGEON_TRACKER_MAX_CARD")]
    pub max_card: Option<u64>,
    /// Cards held at most; past it a card of a new identity is refused (507) until expired
    /// cards are swept, while known identities still update theirs [default: 1000000]
    #[arg(long, value_name = "N", env = "PIGEON_TRACKER_MAX_CARDS")]
    pub max_cards: Option<u64>,
    /// Bytes of cards held at most, all together; past it a card that would add bytes is
    /// refused (507) until expired cards are swept [default: 2147483648]
    #[arg(long, value_name = "BYTES", env = "PIGEON_TRACKER_MAX_BYTES")]
    pub max_bytes: Option<u64>,
    /// Bytes of cards one source address may publish per hour, 0 for no cap (429 past it)
    /// [default: 4194304]
    #[arg(
        long,
        value_name = "BYTES",
        env = "PIGEON_TRACKER_MAX_BYTES_PER_SOURCE_HOUR"
    )]
    pub max_bytes_per_source_hour: Option<u64>,
    /// Longest a card may still be valid when it arrives: a card without `expires`, or
    /// expiring later, is refused (400 bad_expiry) [default: 760d]
    #[arg(long, value_name = "DURATION", env = "PIGEON_TRACKER_MAX_LIFETIME")]
    pub max_lifetime: Option<String>,
    /// Publishing a card needs this password (read from the file)
    #[arg(long, value_name = "FILE", env = "PIGEON_TRACKER_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Run this command on every lockout, block and unblock (event JSON on stdin)
    #[arg(long, value_name = "CMD", env = "PIGEON_TRACKER_ON_EVENT")]
    pub on_event: Option<String>,
    /// Requests per second per source address, 0 for no limit [default: 50]
    #[arg(long, value_name = "N", env = "PIGEON_TRACKER_RATE")]
    pub rate: Option<u32>,
    /// Concurrent connections [default: 1024]
    #[arg(long, value_name = "N", env = "PIGEON_TRACKER_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Concurrent connections from one source address (trusted proxies exempt) [default: 64]
    #[arg(
        long,
        value_name = "N",
        env = "PIGEON_TRACKER_MAX_CONNECTIONS_PER_SOURCE"
    )]
    pub max_connections_per_source: Option<u32>,
    /// Failed attempts (bad release signatures, wrong passwords) before an address is
    /// locked out [default: 3]
    #[arg(long, value_name = "N", env = "PIGEON_TRACKER_MAX_FAILURES")]
    pub max_failures: Option<u32>,
    /// How long a lockout lasts [default: 10m]
    #[arg(long, value_name = "DURATION", env = "PIGEON_TRACKER_LOCKOUT")]
    pub lockout: Option<String>,
    /// A URL clients reach this tracker by (repeatable); signed releases naming another
    /// host are refused
    #[arg(
        long = "public-url",
        value_name = "URL",
        env = "PIGEON_TRACKER_PUBLIC_URL",
        value_delimiter = ','
    )]
    pub public_urls: Vec<String>,
    /// A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded
    /// names the client
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR|CIDR",
        env = "PIGEON_TRACKER_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per message: {"type":"message","v":1,…}
    Jsonl,
    /// A transcript for people (terminal control sequences removed)
    Text,
    /// Markdown, everything from messages escaped
    Markdown,
    /// One self-contained HTML page, readable offline
    Html,
}

/// Directions a message can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    /// Messages you sent
    Sent,
    /// Messages you received
    Received,
}

/// Write your history (the local archive) as JSON Lines, text, Markdown or HTML
///
/// Messages come out ordered by the time they entered the archive (sent or received), then
/// id. Filters combine with AND. Times are RFC 3339 dates (2026-11-01, 2026-11-01T09:00:00Z)
/// or durations back from now (30m, 12h, 7d, 2w). The archive is only read.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon export                                   # JSON Lines, everything
  pigeon export --format text --with bob          # a readable transcript
  pigeon export --format markdown --group ops --since 2026-11-01
  pigeon export --format html -o chat.html --files-dir chat-files
  pigeon export --format jsonl --until 7d --files-dir ./export-files
  pigeon export --direction sent --since 2h | jq .")]
pub struct ExportArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    pub format: ExportFormat,
    /// Write to this file, atomically (default: stdout)
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only messages from or to this contact (name or fingerprint)
    #[arg(long, value_name = "CONTACT")]
    pub with: Option<String>,
    /// Only messages of this group (its name or id)
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Only messages from this time on: a date or a duration ago (7d)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only messages before this time: a date or a duration ago (7d)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only messages you sent, or only those you received
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
    /// Only messages of this kind: text, file, … (repeatable)
    #[arg(long, value_name = "KIND")]
    pub kind: Vec<String>,
    /// At most this many messages (the oldest that match)
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Copy attachments here under safe names (never overwriting) and refer to the copies
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
}

/// Manage the local archive of messages
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    Prune(PruneArgs),
}

/// Delete archived messages received before a time, and their saved attachments
///
/// Prints one JSON line: {"type":"pruned","before","dry_run","messages","files","kept_files"}.
/// Messages not yet handed over by recv and sent ones still waiting in the outbox are
/// kept. Attachments are deleted only inside the files folder, never through a symlink;
/// others are kept and counted.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pigeon archive prune --before 2026-01-01 --dry-run
  pigeon archive prune --before 90d")]
pub struct PruneArgs {
    /// Delete what was received before this: a date or a duration ago (90d)
    #[arg(long, value_name = "WHEN")]
    pub before: String,
    /// Only count what would be deleted
    #[arg(long)]
    pub dry_run: bool,
    /// The folder recv saved attachments in (default: as for recv)
    #[arg(long, value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
}

/// The trackers a command talks to.
#[derive(Debug, Args, Clone, Default)]
pub struct TrackerUrls {
    /// A tracker to use (repeatable) [default: [tracker] urls in config.toml]
    #[arg(
        long = "tracker",
        value_name = "URL",
        env = "PIGEON_TRACKER",
        value_delimiter = ','
    )]
    pub urls: Vec<String>,
}

/// Trackers: directories of signed cards and of relays, mirrored between each other
///
/// Every card a tracker serves is verified by the client (signature, keys, expiry); with
/// several trackers the valid card with the highest seq wins, and one that is down is
/// reported but does not fail a lookup another answered.
#[derive(Debug, Subcommand)]
pub enum TrackerCommand {
    Serve(Box<TrackerServeArgs>),
    /// Publish your current card (name, keys, relays) on the trackers
    ///
    /// Prints one JSON line per tracker: {"type":"announced","tracker","ok","stored","seq"}
    /// or with "ok":false the tracker's "error" and "code" (name_taken, stale_seq, …).
    #[command(after_help = "Examples:
  pigeon tracker announce --tracker https://tracker.example.org
  PIGEON_TRACKER=http://t1:7448,http://t2:7448 pigeon tracker announce")]
    Announce {
        #[command(flatten)]
        trackers: TrackerUrls,
        /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// Find, verify and print a card by name or fingerprint
    ///
    /// Prints the card as one JSON line, exactly as its owner's `pigeon card` made it (so
    /// `pigeon contact add` reads it). With --add it is also pinned as a contact under the
    /// rules of `contact add` and a {"type":"contact",…,"status"} line follows: a known
    /// name with another key is a key change, refused (exit 4); a card older than the
    /// pinned one is refused (exit 4). A forged or expired card is never printed. When the
    /// trackers hold a name for different keys, nothing is printed but one
    /// {"type":"conflict","query","candidates":[{"fingerprint","name","tracker","seq"}]}
    /// line, nothing is pinned, and the exit is 4: choose with --fingerprint.
    #[command(after_help = "Examples:
  pigeon tracker lookup bob
  pigeon tracker lookup bob --add
  pigeon tracker lookup bob --fingerprint 3f2a…c9 --add   # when trackers disagree
  pigeon tracker lookup 3f2a…c9 > bob.card      # by fingerprint (40 or 64 hex digits)")]
    Lookup {
        /// A name, or a fingerprint (40 or 64 hex digits)
        #[arg(value_name = "NAME|FINGERPRINT")]
        query: String,
        /// Pin the card as a contact (trust on first use)
        #[arg(long)]
        add: bool,
        /// With --add: store it under this name instead of the name on the card
        #[arg(long = "as", value_name = "NAME", requires = "add")]
        as_name: Option<String>,
        /// Take only the card of this key (40 or 64 hex digits): the choice when trackers
        /// disagree on who holds a name
        #[arg(long, value_name = "FINGERPRINT")]
        fingerprint: Option<String>,
        #[command(flatten)]
        trackers: TrackerUrls,
    },
    /// List the relays the trackers know, for a newcomer to pick one
    ///
    /// One JSON line per relay: {"type":"relay","url","source","seen","trackers"}.
    #[command(after_help = "Examples:
  pigeon tracker relays | jq -r .url")]
    Relays {
        #[command(flatten)]
        trackers: TrackerUrls,
    },
    /// Use a tracker from now on: adds it to `[tracker] urls` in config.toml
    ///
    /// The tracker is asked for /v1/info first; one that does not answer is added all the
    /// same, with a warning. Prints {"type":"tracker","url","status"} (added, unchanged).
    #[command(after_help = "Examples:
  pigeon tracker add https://tracker.example.org
  pigeon tracker announce          # then publish your card there")]
    Add {
        /// The tracker's URL (http:// or https://)
        url: String,
    },
    /// Stop using a tracker: removes it from `[tracker] urls` in config.toml
    Remove {
        /// The tracker's URL, as `pigeon tracker list` prints it
        url: String,
    },
    /// The trackers config.toml names, one {"type":"tracker","url"} line each
    List,
    /// Give your name back on the trackers (a request signed with your mailbox key)
    ///
    /// The name is then free for whoever claims it next; your card stays retrievable by
    /// fingerprint.
    #[command(after_help = "Examples:
  pigeon tracker release --tracker https://tracker.example.org")]
    Release {
        #[command(flatten)]
        trackers: TrackerUrls,
        /// Read the passphrase from this file (else PIGEON_PASSPHRASE)
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
}

/// The web client that relays serve with `serve --web`
///
/// The relay that serves the page can change it: check what a relay serves against the
/// bundle this pigeon embeds.
#[derive(Debug, Subcommand)]
pub enum WebCommand {
    /// Check that a relay serves exactly the web client this pigeon embeds
    ///
    /// Fetches the page, its script and its style from URL (no redirect followed) and
    /// compares their SHA-256 and the Content-Security-Policy with this pigeon's own. One
    /// JSON line per file: {"type":"web_file","path","ok","sha256","expected"}. Exit 0 when
    /// every one is equal, 4 when one differs (said on stderr), 5 when URL serves no web
    /// client, 3 when it cannot be reached. It checks what URL served to this request: a
    /// relay can serve another page to others or later.
    #[command(after_help = "Examples:
  pigeon web verify https://relay.example.org
  pigeon web verify http://pi.local:7447")]
    Verify {
        /// The relay's address, as the browser opens it
        #[arg(value_name = "URL")]
        url: String,
    },
}

/// Generate man pages and shell completions (for packagers and the repository)
#[derive(Debug, Args)]
pub struct GenArgs {
    /// Write under this folder: man/ and completions/
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
}

/// A size in bytes, with an optional K, M or G suffix (powers of 1024): `16M`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size unit {c:?}: use K, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size: use bytes or a number with K, M or G"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("4096"), Ok(4096));
        assert_eq!(super::parse_size("16M"), Ok(16 << 20));
        assert_eq!(super::parse_size("2k"), Ok(2048));
        assert!(super::parse_size("1X").is_err());
        assert!(super::parse_size("M").is_err());
        assert!(super::parse_size("99999999999G").is_err());
    }

    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_visible_command_and_flag_has_help() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(!help.is_empty(), "{path} --{id} has no help");
                assert!(
                    !help.ends_with('.'),
                    "{path} --{id}: short help ends in a period"
                );
            }
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() || sub.get_name() == "help" {
                    continue;
                }
                let about = sub.get_about().map(|h| h.to_string()).unwrap_or_default();
                assert!(!about.is_empty(), "{path} {} has no about", sub.get_name());
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "pigeon");
    }

    #[test]
    fn help_examples_parse() {
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            let Some(after) = sub.get_after_help() else {
                continue;
            };
            for line in after.to_string().lines() {
                let line = line.trim();
                let Some(rest) = line.strip_prefix("pigeon ") else {
                    continue;
                };
                let rest = rest.split(" #").next().unwrap_or(rest);
                let rest = rest.split(['<', '>', '|']).next().unwrap_or(rest);
                let mut argv = vec!["pigeon".to_string()];
                argv.extend(shell_words(rest));
                Cli::try_parse_from(&argv)
                    .unwrap_or_else(|e| panic!("example `{line}` does not parse: {e}"));
            }
        }
    }

    fn shell_words(s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        for c in s.chars() {
            match c {
                '"' => quoted = !quoted,
                ' ' if !quoted => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                _ => cur.push(c),
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}
