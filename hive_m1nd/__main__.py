from hive_m1nd.cli import main

main()
