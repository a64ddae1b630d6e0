from crosscheck.command import main

raise SystemExit(main())
