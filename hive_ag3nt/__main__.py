from hive_ag3nt.cli import main

main()
