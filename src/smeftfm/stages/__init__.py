"""Stage runners: what each `smeftfm <stage>` command does (the CLI only parses options)."""
