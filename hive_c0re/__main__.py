from hive_c0re.cli import main

main()
