from etbot.cli import main

raise SystemExit(main())
