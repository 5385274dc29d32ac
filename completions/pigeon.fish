# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pigeon_global_optspecs
    string join \n q/quiet h/help V/version
end

function __fish_pigeon_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pigeon_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pigeon_using_subcommand
    set -l cmd (__fish_pigeon_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pigeon -n "__fish_pigeon_needs_command" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_needs_command" -s V -l version -d 'Print version'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "keygen" -d 'Create your identity (or import one from GnuPG)'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "card" -d 'Print your signed card: the public half of your identity, one JSON line'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "rename" -d 'Change the name on your card, keeping your keys (and so your fingerprint and mailbox)'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "contact" -d 'Manage contacts: cards you have accepted, pinned by fingerprint'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "relay" -d 'Manage the relays your card lists (each change bumps the card\'s seq)'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "seal" -d 'Encrypt and sign a message to contacts, offline, writing the ciphertext to stdout'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "open" -d 'Decrypt and verify one ciphertext (pigeon\'s, age\'s or gpg\'s) and print it as JSON'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "send" -d 'Send a message to contacts through their relays'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "recv" -d 'Fetch, verify and decrypt your messages, then print them'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "serve" -d 'Run a relay: store encrypted envelopes until their owners fetch them'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "export" -d 'Write your history (the local archive) as JSON Lines, text, Markdown or HTML'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "archive" -d 'Manage the local archive of messages'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "tracker" -d 'Trackers: directories of signed cards and of relays, mirrored between each other'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "group" -d 'Groups: named sets of members who all get each group message, sealed once'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "web" -d 'The web client that relays serve with `serve --web`'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "outbox" -d 'Deliveries that wait for a relay: list them, or drop one'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "gen" -d 'Generate man pages and shell completions (for packagers and the repository)'
complete -c pigeon -n "__fish_pigeon_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l name -d 'The name on your card (defaults to the name in an imported key)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l kind -d 'Kind of identity' -r -f -a "age\t'X25519 (age) for encryption and Ed25519 for signatures'
pgp\t'An OpenPGP certificate that GnuPG 2.2 reads'"
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l import -d 'Import an OpenPGP secret key (a file, or - for stdin) instead of generating one' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l import-passphrase-file -d 'Read the passphrase of the imported key from this file (else PIGEON_GPG_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l passphrase-file -d 'Protect the secret keys with the passphrase in this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -l force -d 'Replace an existing identity (the old secret keys are lost)'
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand keygen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand card" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand card" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand card" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand rename" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand rename" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "add" -d 'Pin a card read from a file or stdin (trust on first use)'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "list" -d 'List contacts, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "show" -d 'Show one contact with its card'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "remove" -d 'Forget a contact'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "verify" -d 'Record that you checked a contact\'s fingerprint out of band'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and not __fish_seen_subcommand_from add list show remove verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from add" -l as -d 'Store it under this name instead of the name on the card' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from add" -l accept-new-key -d 'Accept a card whose key differs from the pinned one'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from verify" -l fingerprint -d 'The fingerprint you were told (spaces and case do not matter)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "add" -d 'Pin a card read from a file or stdin (trust on first use)'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "list" -d 'List contacts, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one contact with its card'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Forget a contact'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Record that you checked a contact\'s fingerprint out of band'
complete -c pigeon -n "__fish_pigeon_using_subcommand contact; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -f -a "add" -d 'Add a relay URL to your card'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -f -a "remove" -d 'Move a relay URL on your card to "draining": senders stop, you still read it'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -f -a "list" -d 'List your relays, one JSON line each (draining ones with "draining":true and "since")'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and not __fish_seen_subcommand_from add remove list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from remove" -l now -d 'Drop it at once instead of draining it (what waits there is not read)'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a relay URL to your card'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Move a relay URL on your card to "draining": senders stop, you still read it'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "list" -d 'List your relays, one JSON line each (draining ones with "draining":true and "since")'
complete -c pigeon -n "__fish_pigeon_using_subcommand relay; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand seal" -l to -d 'Recipient contact name or fingerprint (repeatable)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand seal" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand seal" -l armor -d 'ASCII-armour the output'
complete -c pigeon -n "__fish_pigeon_using_subcommand seal" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand seal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand open" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand open" -l allow-unsigned -d 'Print unsigned ciphertext, marked "verified":false'
complete -c pigeon -n "__fish_pigeon_using_subcommand open" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l to -d 'Recipient contact name or fingerprint (repeatable)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l group -d 'Send to every member of this group (its name or id), sealed once per key kind' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l file -d 'Attach a file (repeatable)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l reply-to -d 'The id of the message this one answers' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l ttl -d 'How long relays keep it: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l tracker -d 'A tracker to use (repeatable) [default: [tracker] urls in config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l json -d 'Read one JSON message per line from stdin'
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l retry -d 'Only deliver what waits in the outbox (retried and expired lines on stdout)'
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -l report-retries -d 'Also print a retried or expired line per queued message retried after this one'
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand send" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l exec -d 'Run this command per message (the message JSON on its stdin; PIGEON_ID, PIGEON_FROM, PIGEON_KIND, PIGEON_GROUP, PIGEON_BODY_FILE… in its environment)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l format -d 'Output format' -r -f -a "json\t'One JSON object per line'
text\t'For people'"
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l keep-for -d 'Leave messages on the relays this long (30m, 12h, 7d), for your other devices to read; a later run acknowledges them once the relay has held them that long. Each message is still printed once [default: keep_for in [recv] of config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l files-dir -d 'Write attachments here (default: the data dir\'s files/)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l group -d 'Print only this group\'s messages (name or id); the others wait for a plain recv' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l max-file-size -d 'Refuse messages with an attachment larger than this (bytes; K, M, G suffixes) [default: 16M, or max_file_size in [recv] of config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l follow -d 'Keep running and print messages as they arrive'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l keep -d 'Leave messages on the relays'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l from-contacts-only -d 'Hold back messages from senders who are not contacts'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l no-wait -d 'Exit 7 at once if another recv is running, instead of waiting'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -l show-rejected -d 'Also print rejected messages as {"type":"rejected"} lines'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand recv" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l listen -d 'Address to listen on [default: 127.0.0.1:7447]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l db -d 'The relay\'s SQLite database [default: relay.sqlite in the data dir]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l name -d 'The relay\'s name in /v1/info [default: pigeon]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l password-file -d 'Posting needs this password (read from the file)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l metrics -d 'Who may read /metrics: open (anyone), local (loopback sources only; behind a reverse proxy, with --trusted-proxy) or off [default: open]' -r -f -a "open\t'Anyone who can reach the server'
local\t'Loopback sources only (a scraper on the same host)'
off\t'Nobody: 404'"
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l on-event -d 'Run this command on every lockout, block and unblock (event JSON on stdin)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-body -d 'Largest request body in bytes [default: 1048576]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-envelopes -d 'Envelopes kept per mailbox [default: 10000]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-mailbox-bytes -d 'Bytes kept per mailbox [default: 104857600]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-total-bytes -d 'Bytes kept for all mailboxes together [default: 1073741824]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-ttl -d 'Longest time an envelope is kept [default: 14d]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l default-ttl -d 'Time an envelope is kept when it names none [default: 7d, at most --max-ttl]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l sweep-interval -d 'How often expired envelopes are deleted [default: 60s]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-wait -d 'Longest long-poll wait a reader may ask for [default: 60s]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l rate -d 'Requests per second per source address, 0 for no limit [default: 50]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-connections -d 'Concurrent connections [default: 1024]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l header-timeout -d 'Time a client has to send its request headers [default: 10s]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l body-timeout -d 'Time a client has to send its request body [default: 30s]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-failures -d 'Failed attempts before an address is locked out [default: 3]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l lockout -d 'How long a lockout lasts [default: 10m]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-lockouts -d 'Lockouts before an address is blocked until `pigeon serve unblock` [default: 3]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l public-url -d 'A URL clients reach this relay by (repeatable); signed requests naming another host are refused (see docs/protocol.md, "Relay names")' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l trusted-proxy -d 'A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded names the client; from anyone else those headers are ignored' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-connections-per-source -d 'Concurrent connections from one source address (trusted proxies exempt) [default: 64]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l write-timeout -d 'Time a client may leave a reply unread before its connection is closed [default: 30s]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l max-bytes-per-source-hour -d 'Bytes one source address may store per hour, 0 for no cap [default: 0]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l tracker-db -d 'The mounted tracker\'s SQLite database [default: tracker.sqlite in the data dir]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l peer -d 'With --tracker: another tracker to mirror cards with (repeatable), as `pigeon tracker serve --peer` does' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l announce-to -d 'Announce this relay to a tracker (repeatable) at start and every hour, under its first --public-url, so `pigeon tracker relays` lists it for newcomers' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l require-token -d 'Posting needs a token from `pigeon serve token`'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l web -d 'Also serve the web client at / (a page that talks to this relay\'s /v1)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -l tracker -d 'Also serve a tracker (a directory of signed cards) on the same port: see `pigeon tracker serve --help`'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "token" -d 'Print a posting token derived from the relay\'s secret'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "unblock" -d 'Lift the block or the lockout of a source address'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "blocks" -d 'List blocked and locked-out source addresses (JSON Lines)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "tokens" -d 'List the posting tokens `serve token` made (ids, labels, dates; never the tokens)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "revoke" -d 'Revoke one posting token: by its id from `serve tokens`, or `-` to read the token itself from stdin (a token made before ids were kept)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and not __fish_seen_subcommand_from token unblock blocks tokens revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from token" -l label -d 'Who the token is for' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from token" -l expires -d 'How long it is valid: 12h, 30d [default: 30d]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from token" -l db -d 'The relay\'s database (its secret lives there) [default: as for serve]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from token" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from unblock" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from unblock" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from unblock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from blocks" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from blocks" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from blocks" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from tokens" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from tokens" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from tokens" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from revoke" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "token" -d 'Print a posting token derived from the relay\'s secret'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "unblock" -d 'Lift the block or the lockout of a source address'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "blocks" -d 'List blocked and locked-out source addresses (JSON Lines)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "tokens" -d 'List the posting tokens `serve token` made (ids, labels, dates; never the tokens)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke one posting token: by its id from `serve tokens`, or `-` to read the token itself from stdin (a token made before ids were kept)'
complete -c pigeon -n "__fish_pigeon_using_subcommand serve; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l format -d 'Output format' -r -f -a "jsonl\t'One JSON object per message: {"type":"message","v":1,…}'
text\t'A transcript for people (terminal control sequences removed)'
markdown\t'Markdown, everything from messages escaped'
html\t'One self-contained HTML page, readable offline'"
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -s o -l output -d 'Write to this file, atomically (default: stdout)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l with -d 'Only messages from or to this contact (name or fingerprint)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l group -d 'Only messages of this group (its name or id)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l since -d 'Only messages from this time on: a date or a duration ago (7d)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l until -d 'Only messages before this time: a date or a duration ago (7d)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l direction -d 'Only messages you sent, or only those you received' -r -f -a "sent\t'Messages you sent'
received\t'Messages you received'"
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l kind -d 'Only messages of this kind: text, file, … (repeatable)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l limit -d 'At most this many messages (the oldest that match)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -l files-dir -d 'Copy attachments here under safe names (never overwriting) and refer to the copies' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and not __fish_seen_subcommand_from prune help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and not __fish_seen_subcommand_from prune help" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and not __fish_seen_subcommand_from prune help" -f -a "prune" -d 'Delete archived messages received before a time, and their saved attachments'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and not __fish_seen_subcommand_from prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from prune" -l before -d 'Delete what was received before this: a date or a duration ago (90d)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from prune" -l files-dir -d 'The folder recv saved attachments in (default: as for recv)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from prune" -l dry-run -d 'Only count what would be deleted'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Delete archived messages received before a time, and their saved attachments'
complete -c pigeon -n "__fish_pigeon_using_subcommand archive; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "serve" -d 'Run a tracker: store signed cards by fingerprint and name, list relays, mirror peers'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "announce" -d 'Publish your current card (name, keys, relays) on the trackers'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "lookup" -d 'Find, verify and print a card by name or fingerprint'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "relays" -d 'List the relays the trackers know, for a newcomer to pick one'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "add" -d 'Use a tracker from now on: adds it to `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "remove" -d 'Stop using a tracker: removes it from `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "list" -d 'The trackers config.toml names, one {"type":"tracker","url"} line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "release" -d 'Give your name back on the trackers (a request signed with your mailbox key)'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and not __fish_seen_subcommand_from serve announce lookup relays add remove list release help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l listen -d 'Address to listen on [default: 127.0.0.1:7448]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l db -d 'The tracker\'s SQLite database [default: tracker.sqlite in the data dir]' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l peer -d 'Another tracker to mirror cards with (repeatable): its cards are pulled at start and every --pull-interval, and every card stored here is pushed to it. Each is verified' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l pull-interval -d 'How often peers are pulled [default: 5m]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-card -d 'Largest card accepted, in bytes [default: 65536]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-cards -d 'Cards held at most; past it a card of a new identity is refused (507) until expired cards are swept, while known identities still update theirs [default: 1000000]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-bytes -d 'Bytes of cards held at most, all together; past it a card that would add bytes is refused (507) until expired cards are swept [default: 2147483648]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-bytes-per-source-hour -d 'Bytes of cards one source address may publish per hour, 0 for no cap (429 past it) [default: 4194304]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-lifetime -d 'Longest a card may still be valid when it arrives: a card without `expires`, or expiring later, is refused (400 bad_expiry) [default: 760d]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l password-file -d 'Publishing a card needs this password (read from the file)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l on-event -d 'Run this command on every lockout, block and unblock (event JSON on stdin)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l rate -d 'Requests per second per source address, 0 for no limit [default: 50]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-connections -d 'Concurrent connections [default: 1024]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-connections-per-source -d 'Concurrent connections from one source address (trusted proxies exempt) [default: 64]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l max-failures -d 'Failed attempts (bad release signatures, wrong passwords) before an address is locked out [default: 3]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l lockout -d 'How long a lockout lasts [default: 10m]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l public-url -d 'A URL clients reach this tracker by (repeatable); signed releases naming another host are refused' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -l trusted-proxy -d 'A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded names the client' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from announce" -l tracker -d 'A tracker to use (repeatable) [default: [tracker] urls in config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from announce" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from announce" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from announce" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -l as -d 'With --add: store it under this name instead of the name on the card' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -l fingerprint -d 'Take only the card of this key (40 or 64 hex digits): the choice when trackers disagree on who holds a name' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -l tracker -d 'A tracker to use (repeatable) [default: [tracker] urls in config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -l add -d 'Pin the card as a contact (trust on first use)'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from lookup" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from relays" -l tracker -d 'A tracker to use (repeatable) [default: [tracker] urls in config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from relays" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from relays" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from release" -l tracker -d 'A tracker to use (repeatable) [default: [tracker] urls in config.toml]' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from release" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from release" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Run a tracker: store signed cards by fingerprint and name, list relays, mirror peers'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "announce" -d 'Publish your current card (name, keys, relays) on the trackers'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "lookup" -d 'Find, verify and print a card by name or fingerprint'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "relays" -d 'List the relays the trackers know, for a newcomer to pick one'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "add" -d 'Use a tracker from now on: adds it to `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Stop using a tracker: removes it from `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "list" -d 'The trackers config.toml names, one {"type":"tracker","url"} line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "release" -d 'Give your name back on the trackers (a request signed with your mailbox key)'
complete -c pigeon -n "__fish_pigeon_using_subcommand tracker; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "create" -d 'Make a group of contacts, with you as its first admin'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "add" -d 'Add contacts to a group (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "remove" -d 'Remove members from a group (admins only); they receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "ban" -d 'Remove members and stop anyone from adding them again (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "leave" -d 'Leave a group: its members are told, and you receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "admin" -d 'Make a member an admin, or with --revoke take it back (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "list" -d 'List your groups, one JSON line each: {"type":"group","id","name","role","version","members"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "show" -d 'Show one group: {"type":"group","id","name","role","version","members":[…],"admins","banned"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and not __fish_seen_subcommand_from create add remove ban leave admin list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from create" -l member -d 'A contact to make a member (name or fingerprint; repeatable)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from create" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from create" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from add" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from remove" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from remove" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from ban" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from ban" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from ban" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from ban" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from leave" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from leave" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from leave" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from leave" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from admin" -l ttl -d 'How long relays keep the announcement: 30m, 12h, 2d (default: the relay\'s)' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from admin" -l passphrase-file -d 'Read the passphrase from this file (else PIGEON_PASSPHRASE)' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from admin" -l revoke -d 'Take admin rights away instead of granting them'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from admin" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from admin" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "create" -d 'Make a group of contacts, with you as its first admin'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add contacts to a group (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove members from a group (admins only); they receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "ban" -d 'Remove members and stop anyone from adding them again (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "leave" -d 'Leave a group: its members are told, and you receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "admin" -d 'Make a member an admin, or with --revoke take it back (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List your groups, one JSON line each: {"type":"group","id","name","role","version","members"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one group: {"type":"group","id","name","role","version","members":[…],"admins","banned"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and not __fish_seen_subcommand_from verify help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and not __fish_seen_subcommand_from verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and not __fish_seen_subcommand_from verify help" -f -a "verify" -d 'Check that a relay serves exactly the web client this pigeon embeds'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and not __fish_seen_subcommand_from verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Check that a relay serves exactly the web client this pigeon embeds'
complete -c pigeon -n "__fish_pigeon_using_subcommand web; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and not __fish_seen_subcommand_from list drop help" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and not __fish_seen_subcommand_from list drop help" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and not __fish_seen_subcommand_from list drop help" -f -a "list" -d 'List queued deliveries, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and not __fish_seen_subcommand_from list drop help" -f -a "drop" -d 'Give up a queued message: its deliveries leave the outbox'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and not __fish_seen_subcommand_from list drop help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from drop" -l relay -d 'Only its delivery to this relay' -r
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from drop" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "list" -d 'List queued deliveries, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "drop" -d 'Give up a queued message: its deliveries leave the outbox'
complete -c pigeon -n "__fish_pigeon_using_subcommand outbox; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand gen" -l out-dir -d 'Write under this folder: man/ and completions/' -r -F
complete -c pigeon -n "__fish_pigeon_using_subcommand gen" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeon -n "__fish_pigeon_using_subcommand gen" -s h -l help -d 'Print help'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "keygen" -d 'Create your identity (or import one from GnuPG)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "card" -d 'Print your signed card: the public half of your identity, one JSON line'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "rename" -d 'Change the name on your card, keeping your keys (and so your fingerprint and mailbox)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "contact" -d 'Manage contacts: cards you have accepted, pinned by fingerprint'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "relay" -d 'Manage the relays your card lists (each change bumps the card\'s seq)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "seal" -d 'Encrypt and sign a message to contacts, offline, writing the ciphertext to stdout'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "open" -d 'Decrypt and verify one ciphertext (pigeon\'s, age\'s or gpg\'s) and print it as JSON'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "send" -d 'Send a message to contacts through their relays'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "recv" -d 'Fetch, verify and decrypt your messages, then print them'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "serve" -d 'Run a relay: store encrypted envelopes until their owners fetch them'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "export" -d 'Write your history (the local archive) as JSON Lines, text, Markdown or HTML'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "archive" -d 'Manage the local archive of messages'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "tracker" -d 'Trackers: directories of signed cards and of relays, mirrored between each other'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "group" -d 'Groups: named sets of members who all get each group message, sealed once'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "web" -d 'The web client that relays serve with `serve --web`'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "outbox" -d 'Deliveries that wait for a relay: list them, or drop one'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "gen" -d 'Generate man pages and shell completions (for packagers and the repository)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and not __fish_seen_subcommand_from keygen card rename contact relay seal open send recv serve export archive tracker group web outbox gen help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "add" -d 'Pin a card read from a file or stdin (trust on first use)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "list" -d 'List contacts, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "show" -d 'Show one contact with its card'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "remove" -d 'Forget a contact'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from contact" -f -a "verify" -d 'Record that you checked a contact\'s fingerprint out of band'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from relay" -f -a "add" -d 'Add a relay URL to your card'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from relay" -f -a "remove" -d 'Move a relay URL on your card to "draining": senders stop, you still read it'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from relay" -f -a "list" -d 'List your relays, one JSON line each (draining ones with "draining":true and "since")'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from serve" -f -a "token" -d 'Print a posting token derived from the relay\'s secret'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from serve" -f -a "unblock" -d 'Lift the block or the lockout of a source address'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from serve" -f -a "blocks" -d 'List blocked and locked-out source addresses (JSON Lines)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from serve" -f -a "tokens" -d 'List the posting tokens `serve token` made (ids, labels, dates; never the tokens)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from serve" -f -a "revoke" -d 'Revoke one posting token: by its id from `serve tokens`, or `-` to read the token itself from stdin (a token made before ids were kept)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from archive" -f -a "prune" -d 'Delete archived messages received before a time, and their saved attachments'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "serve" -d 'Run a tracker: store signed cards by fingerprint and name, list relays, mirror peers'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "announce" -d 'Publish your current card (name, keys, relays) on the trackers'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "lookup" -d 'Find, verify and print a card by name or fingerprint'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "relays" -d 'List the relays the trackers know, for a newcomer to pick one'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "add" -d 'Use a tracker from now on: adds it to `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "remove" -d 'Stop using a tracker: removes it from `[tracker] urls` in config.toml'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "list" -d 'The trackers config.toml names, one {"type":"tracker","url"} line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from tracker" -f -a "release" -d 'Give your name back on the trackers (a request signed with your mailbox key)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "create" -d 'Make a group of contacts, with you as its first admin'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Add contacts to a group (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "remove" -d 'Remove members from a group (admins only); they receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "ban" -d 'Remove members and stop anyone from adding them again (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "leave" -d 'Leave a group: its members are told, and you receive nothing after it'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "admin" -d 'Make a member an admin, or with --revoke take it back (admins only)'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List your groups, one JSON line each: {"type":"group","id","name","role","version","members"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "show" -d 'Show one group: {"type":"group","id","name","role","version","members":[…],"admins","banned"}'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from web" -f -a "verify" -d 'Check that a relay serves exactly the web client this pigeon embeds'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from outbox" -f -a "list" -d 'List queued deliveries, one JSON line each'
complete -c pigeon -n "__fish_pigeon_using_subcommand help; and __fish_seen_subcommand_from outbox" -f -a "drop" -d 'Give up a queued message: its deliveries leave the outbox'
