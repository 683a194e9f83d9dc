from beskar.cli import main

main()
