from vitaltrust.cli import main

main()
