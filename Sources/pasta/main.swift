import Glibc
import PastaCore

exit(PastaMain.run(CommandLine.arguments))
