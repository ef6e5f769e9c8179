complete -c sscard-bridge -l bus -d 'The daemon\'s bus: `system` (default), `session` or a D-Bus address' -r
complete -c sscard-bridge -l listen -d 'Where to listen: 127.0.0.1:PORT or [::1]:PORT (default 127.0.0.1:12342)' -r
complete -c sscard-bridge -l config -d 'The configuration file (TOML). Default: ~/.config/sscard/bridge.toml, else /etc/sscard/bridge.toml, when one exists' -r -F
complete -c sscard-bridge -s h -l help -d 'Print help'
complete -c sscard-bridge -s V -l version -d 'Print version'
