from locator_cli.main import main

raise SystemExit(main())
