# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_sscard_sim_global_optspecs
    string join \n h/help V/version
end

function __fish_sscard_sim_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_sscard_sim_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_sscard_sim_using_subcommand
    set -l cmd (__fish_sscard_sim_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c sscard-sim -n "__fish_sscard_sim_needs_command" -s h -l help -d 'Print help'
complete -c sscard-sim -n "__fish_sscard_sim_needs_command" -s V -l version -d 'Print version'
complete -c sscard-sim -n "__fish_sscard_sim_needs_command" -f -a "card" -d 'A social security card (blank unless --image names an existing image)'
complete -c sscard-sim -n "__fish_sscard_sim_needs_command" -f -a "psam" -d 'A PSAM for the terminal\'s SAM slot'
complete -c sscard-sim -n "__fish_sscard_sim_needs_command" -f -a "hsm" -d 'The encryption machine (HSM) of a counter without a PSAM, for tests and demos: reads an HSM step\'s output line (as the national functions print it) and prints the back end\'s answer, the next step\'s pKey, computed with the test keys'
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l port -d 'vpcd\'s TCP port for the slot to insert into' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l host -d 'vpcd\'s host' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l log -d 'Append every APDU and its response to FILE (PIN data redacted)' -r -F
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l remove-after -d 'Close the connection instead of answering the Nth APDU: a card pulled out mid-operation. The APDU itself is still executed' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l latency-us -d 'Delay each answer by N microseconds, to imitate a real card' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l latency-ins -d 'Delay only the APDUs with this instruction byte (hex, e.g. DC for UPDATE RECORD); may be given more than once' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l connect-timeout -d 'How long to keep retrying while vpcd is not listening yet' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l gen -d 'Card generation: 3 (T=1, SM4, life cycle) or 2 (T=0, 3DES)' -r -f -a "2\t''
3\t''"
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l image -d 'JSON card image: loaded if it exists, and saved atomically before every answer that changed the card' -r -F
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l region -d 'Region code of a blank card\'s identifier (6 digits)' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l serial -d 'Chip serial of a blank card\'s identifier (16 hex digits); random when not given' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -l initial-pin -d 'Initial PIN of a blank card' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand card" -s h -l help -d 'Print help'
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l port -d 'vpcd\'s TCP port for the slot to insert into' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l host -d 'vpcd\'s host' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l log -d 'Append every APDU and its response to FILE (PIN data redacted)' -r -F
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l remove-after -d 'Close the connection instead of answering the Nth APDU: a card pulled out mid-operation. The APDU itself is still executed' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l latency-us -d 'Delay each answer by N microseconds, to imitate a real card' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l latency-ins -d 'Delay only the APDUs with this instruction byte (hex, e.g. DC for UPDATE RECORD); may be given more than once' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l connect-timeout -d 'How long to keep retrying while vpcd is not listening yet' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l terminal-number -d 'The terminal number in EF16 (12 digits)' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -l key-domain -d 'Hold another card centre\'s master keys (any name): the reference cards then refuse its cryptograms, as a real card refuses a foreign PSAM' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand psam" -s h -l help -d 'Print help'
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand hsm" -l key-domain -d 'Another card centre\'s master keys, as for `psam --key-domain`' -r
complete -c sscard-sim -n "__fish_sscard_sim_using_subcommand hsm" -s h -l help -d 'Print help'
