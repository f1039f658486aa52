from verifier._entry import main

main()
