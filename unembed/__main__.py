import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C before main's own handling begins (main imports the heavy sub-commands itself)
    print("unembed: interrupted.", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
