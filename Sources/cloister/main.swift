import CloisterCLI

await CloisterCommand.main()
