from verifier.cli.entry import main

main()
