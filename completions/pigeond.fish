# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pigeond_global_optspecs
    string join \n q/quiet listen= db= name= password-file= require-token web metrics= on-event= max-body= max-envelopes= max-mailbox-bytes= max-total-bytes= max-ttl= default-ttl= sweep-interval= max-wait= rate= max-connections= header-timeout= body-timeout= max-failures= lockout= max-lockouts= public-url= trusted-proxy= max-connections-per-source= write-timeout= max-bytes-per-source-hour= tracker tracker-db= peer= announce-to= h/help V/version
end

function __fish_pigeond_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pigeond_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pigeond_using_subcommand
    set -l cmd (__fish_pigeond_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pigeond -n "__fish_pigeond_needs_command" -l listen -d 'Address to listen on [default: 127.0.0.1:7447]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l db -d 'The relay\'s SQLite database [default: relay.sqlite in the data dir]' -r -F
complete -c pigeond -n "__fish_pigeond_needs_command" -l name -d 'The relay\'s name in /v1/info [default: pigeon]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l password-file -d 'Posting needs this password (read from the file)' -r -F
complete -c pigeond -n "__fish_pigeond_needs_command" -l metrics -d 'Who may read /metrics: open (anyone), local (loopback sources only; behind a reverse proxy, with --trusted-proxy) or off [default: open]' -r -f -a "open\t'Anyone who can reach the server'
local\t'Loopback sources only (a scraper on the same host)'
off\t'Nobody: 404'"
complete -c pigeond -n "__fish_pigeond_needs_command" -l on-event -d 'Run this command on every lockout, block and unblock (event JSON on stdin)' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-body -d 'Largest request body in bytes [default: 1048576]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-envelopes -d 'Envelopes kept per mailbox [default: 10000]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-mailbox-bytes -d 'Bytes kept per mailbox [default: 104857600]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-total-bytes -d 'Bytes kept for all mailboxes together [default: 1073741824]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-ttl -d 'Longest time an envelope is kept [default: 14d]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l default-ttl -d 'Time an envelope is kept when it names none [default: 7d, at most --max-ttl]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l sweep-interval -d 'How often expired envelopes are deleted [default: 60s]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-wait -d 'Longest long-poll wait a reader may ask for [default: 60s]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l rate -d 'Requests per second per source address, 0 for no limit [default: 50]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-connections -d 'Concurrent connections [default: 1024]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l header-timeout -d 'Time a client has to send its request headers [default: 10s]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l body-timeout -d 'Time a client has to send its request body [default: 30s]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-failures -d 'Failed attempts before an address is locked out [default: 3]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l lockout -d 'How long a lockout lasts [default: 10m]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-lockouts -d 'Lockouts before an address is blocked until `pigeon serve unblock` [default: 3]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l public-url -d 'A URL clients reach this relay by (repeatable); signed requests naming another host are refused (see docs/protocol.md, "Relay names")' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l trusted-proxy -d 'A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded names the client; from anyone else those headers are ignored' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-connections-per-source -d 'Concurrent connections from one source address (trusted proxies exempt) [default: 64]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l write-timeout -d 'Time a client may leave a reply unread before its connection is closed [default: 30s]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l max-bytes-per-source-hour -d 'Bytes one source address may store per hour, 0 for no cap [default: 0]' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l tracker-db -d 'The mounted tracker\'s SQLite database [default: tracker.sqlite in the data dir]' -r -F
complete -c pigeond -n "__fish_pigeond_needs_command" -l peer -d 'With --tracker: another tracker to mirror cards with (repeatable), as `pigeon tracker serve --peer` does' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -l announce-to -d 'Announce this relay to a tracker (repeatable) at start and every hour, under its first --public-url, so `pigeon tracker relays` lists it for newcomers' -r
complete -c pigeond -n "__fish_pigeond_needs_command" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_needs_command" -l require-token -d 'Posting needs a token from `pigeon serve token`'
complete -c pigeond -n "__fish_pigeond_needs_command" -l web -d 'Also serve the web client at / (a page that talks to this relay\'s /v1)'
complete -c pigeond -n "__fish_pigeond_needs_command" -l tracker -d 'Also serve a tracker (a directory of signed cards) on the same port: see `pigeon tracker serve --help`'
complete -c pigeond -n "__fish_pigeond_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeond -n "__fish_pigeond_needs_command" -s V -l version -d 'Print version'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "token" -d 'Print a posting token derived from the relay\'s secret'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "unblock" -d 'Lift the block or the lockout of a source address'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "blocks" -d 'List blocked and locked-out source addresses (JSON Lines)'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "tokens" -d 'List the posting tokens `serve token` made (ids, labels, dates; never the tokens)'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "revoke" -d 'Revoke one posting token: by its id from `serve tokens`, or `-` to read the token itself from stdin (a token made before ids were kept)'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "tracker" -d 'Run a tracker alone (`pigeon tracker serve`: the same flags and config)'
complete -c pigeond -n "__fish_pigeond_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pigeond -n "__fish_pigeond_using_subcommand token" -l label -d 'Who the token is for' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand token" -l expires -d 'How long it is valid: 12h, 30d [default: 30d]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand token" -l db -d 'The relay\'s database (its secret lives there) [default: as for serve]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand token" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand token" -s h -l help -d 'Print help'
complete -c pigeond -n "__fish_pigeond_using_subcommand unblock" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand unblock" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand unblock" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeond -n "__fish_pigeond_using_subcommand blocks" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand blocks" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand blocks" -s h -l help -d 'Print help'
complete -c pigeond -n "__fish_pigeond_using_subcommand tokens" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand tokens" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand tokens" -s h -l help -d 'Print help'
complete -c pigeond -n "__fish_pigeond_using_subcommand revoke" -l db -d 'The relay\'s database [default: as for serve]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand revoke" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l listen -d 'Address to listen on [default: 127.0.0.1:7448]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l db -d 'The tracker\'s SQLite database [default: tracker.sqlite in the data dir]' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l peer -d 'Another tracker to mirror cards with (repeatable): its cards are pulled at start and every --pull-interval, and every card stored here is pushed to it. Each is verified' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l pull-interval -d 'How often peers are pulled [default: 5m]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-card -d 'Largest card accepted, in bytes [default: 65536]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-cards -d 'Cards held at most; past it a card of a new identity is refused (507) until expired cards are swept, while known identities still update theirs [default: 1000000]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-bytes -d 'Bytes of cards held at most, all together; past it a card that would add bytes is refused (507) until expired cards are swept [default: 2147483648]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-bytes-per-source-hour -d 'Bytes of cards one source address may publish per hour, 0 for no cap (429 past it) [default: 4194304]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-lifetime -d 'Longest a card may still be valid when it arrives: a card without `expires`, or expiring later, is refused (400 bad_expiry) [default: 760d]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l password-file -d 'Publishing a card needs this password (read from the file)' -r -F
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l on-event -d 'Run this command on every lockout, block and unblock (event JSON on stdin)' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l rate -d 'Requests per second per source address, 0 for no limit [default: 50]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-connections -d 'Concurrent connections [default: 1024]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-connections-per-source -d 'Concurrent connections from one source address (trusted proxies exempt) [default: 64]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l max-failures -d 'Failed attempts (bad release signatures, wrong passwords) before an address is locked out [default: 3]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l lockout -d 'How long a lockout lasts [default: 10m]' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l public-url -d 'A URL clients reach this tracker by (repeatable); signed releases naming another host are refused' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -l trusted-proxy -d 'A reverse proxy (address or network, repeatable) whose X-Forwarded-For / Forwarded names the client' -r
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -s q -l quiet -d 'Print only errors on stderr'
complete -c pigeond -n "__fish_pigeond_using_subcommand tracker" -s h -l help -d 'Print help'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "token" -d 'Print a posting token derived from the relay\'s secret'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "unblock" -d 'Lift the block or the lockout of a source address'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "blocks" -d 'List blocked and locked-out source addresses (JSON Lines)'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "tokens" -d 'List the posting tokens `serve token` made (ids, labels, dates; never the tokens)'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "revoke" -d 'Revoke one posting token: by its id from `serve tokens`, or `-` to read the token itself from stdin (a token made before ids were kept)'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "tracker" -d 'Run a tracker alone (`pigeon tracker serve`: the same flags and config)'
complete -c pigeond -n "__fish_pigeond_using_subcommand help; and not __fish_seen_subcommand_from token unblock blocks tokens revoke tracker help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
