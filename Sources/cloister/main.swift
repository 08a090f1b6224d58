import CloisterCLI

await CloisterCommand.runAsRoot()
