from sharedgen.cli import main

raise SystemExit(main())
