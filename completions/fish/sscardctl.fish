# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sscardctl_global_optspecs
    string join \n bus= json reader= h/help V/version
end

function __fish_sscardctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sscardctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sscardctl_using_subcommand
    set -l cmd (__fish_sscardctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sscardctl -n "__fish_sscardctl_needs_command" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_needs_command" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_needs_command" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -s V -l version -d 'Print version'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "readers" -d 'List the readers: name, card present, kind, profile, busy; and the PSAM\'s reader'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "read" -d 'Read the card info and the holder info'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "write" -d 'Personalise: write a holder record, read it back and compare'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "pin" -d 'The holder\'s PIN: status, verify, change, reload or unblock'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "activate" -d 'Activate the card with the holder\'s new PIN'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "monitor" -d 'Print the daemon\'s events until interrupted'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "unified" -d 'Call a function of the national terminal interface, as libsscard would, and print the return value and pOutInfo'
complete -c sscardctl -n "__fish_sscardctl_needs_command" -f -a "script" -d 'Run an APDU script through pcscd, without the daemon'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand readers" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand readers" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand readers" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand readers" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l photo -d 'Also read the photo and write its JPEG bytes to FILE' -r -F
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l format -d '`table` (default), `json` (as --json) or `bas`: the legacy iReadCardBas line of 11 fields, each followed by `|`' -r -f -a "table\t''
json\t''
bas\t''"
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l authenticate -d 'Run INTERNAL AUTHENTICATE against the PSAM and report `authentic`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand read" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand write" -l photo -d 'The holder\'s photo, a JPEG file (at most 8190 bytes)' -r -F
complete -c sscardctl -n "__fish_sscardctl_using_subcommand write" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand write" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand write" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand write" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -f -a "status" -d 'The PIN\'s tries left and whether it is blocked; spends no try'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -f -a "verify" -d 'Check the holder\'s PIN; a wrong one exits with 11'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -f -a "change" -d 'Change the PIN: reads the old PIN, then the new one'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -f -a "reload" -d 'Set a forgotten PIN; needs the PSAM'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and not __fish_seen_subcommand_from status verify change reload unblock" -f -a "unblock" -d 'Reset the PIN\'s try counter; needs the PSAM'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from status" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from status" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from status" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l allow-last-try -d 'Spend the PIN\'s last try if it comes to that'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l pin-stdin -d 'Read the PIN from standard input instead of prompting'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l no-pin-pad -d 'Type the PIN on this computer even when the reader has a PIN pad (without it, a reader\'s keypad collects the PINs; --pin-stdin types them on the host)'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l allow-last-try -d 'Spend the PIN\'s last try if it comes to that'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l pin-stdin -d 'Read the PINs from standard input, one a line, instead of prompting'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l no-pin-pad -d 'Type the PIN on this computer even when the reader has a PIN pad (without it, a reader\'s keypad collects the PINs; --pin-stdin types them on the host)'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from change" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from reload" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from reload" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from reload" -l pin-stdin -d 'Read the new PIN from standard input instead of prompting'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from reload" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from reload" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from unblock" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from unblock" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from unblock" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand pin; and __fish_seen_subcommand_from unblock" -s h -l help -d 'Print help'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l ssn -d 'The SSN on the holder\'s identity document' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l allow-last-try -d 'Spend the PIN\'s last try if it comes to that'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l pin-stdin -d 'Read the PINs from standard input, one a line, instead of prompting'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l no-pin-pad -d 'Type the PIN on this computer even when the reader has a PIN pad (without it, a reader\'s keypad collects the PINs; --pin-stdin types them on the host)'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand activate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand monitor" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand monitor" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand monitor" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand monitor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand unified" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand unified" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand unified" -l pin-stdin -d 'Read PINs from standard input, one a line (a new PIN twice), instead of asking through pinentry'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand unified" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand unified" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l sam-reader -d 'The PC/SC reader of the PSAM, for `sam:` steps' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l var -d 'An input as hex: `--var tag=07`. Secret inputs (PINs) are never taken here: they are read from standard input, one per line' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l bus -d 'The bus of the daemon: `system` (default), `session`, or a D-Bus address such as `unix:path=/tmp/x/bus`' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l reader -d 'The reader, by PC/SC name or D-Bus object path. Default: the one that holds a social security card (FindCard). `script` needs it, as a PC/SC name' -r
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l no-select -d 'Do not run the profile\'s `identify` script first: the card stays in the state the last program left it in'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -l json -d 'Print JSON (`monitor`: one object per line). Byte strings are upper-case hex; the photo is never printed, only `photo_len`'
complete -c sscardctl -n "__fish_sscardctl_using_subcommand script" -s h -l help -d 'Print help (see more with \'--help\')'
