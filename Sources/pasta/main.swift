import Glibc
import PastaCore
import Pesto
import SlirpDropIn

// One binary, whose name picks the program: pasta or passt (PastaCore), the pesto client, or the
// slirp4netns drop-in (each a link to it).
let program = (CommandLine.arguments.first ?? "pasta").split(separator: "/").last.map(String.init) ?? "pasta"
switch program {
case "pesto": exit(PestoMain.run(CommandLine.arguments))
case "slirp4netns": exit(SlirpMain.run(CommandLine.arguments))
default: exit(PastaMain.run(CommandLine.arguments))
}
