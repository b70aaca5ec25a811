from reference.mistakes.report import main

main()
