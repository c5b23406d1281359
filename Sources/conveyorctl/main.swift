// conveyorctl: the admin client of conveyord (`conveyorctl --help`); everything is in ConveyorCLI.

import ConveyorCLI
import Glibc

exit(CommandLineTool.run(Array(CommandLine.arguments.dropFirst())))
