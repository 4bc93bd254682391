import Glibc
import PastaCore

/// Our binary invoked as `slirp4netns`: its command line, then pasta's datapath in the foreground.
public enum SlirpMain {
    public static func run(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let invocation: SlirpInvocation
        do {
            invocation = try SlirpInvocation.parse(Array(arguments.dropFirst()))
        } catch {
            printError("\(error)")
            printError("Try 'slirp4netns --help' for more information.")
            return 1
        }
        if invocation.help {
            print(SlirpInvocation.usage)
            return 0
        }
        if invocation.version {
            print(SlirpInvocation.versionText)
            return 0
        }
        APISocket.factory = { try SlirpAPIServer($0) }
        return PastaMain.serve(invocation.options, profile: .slirp4netns)
    }

    static func printError(_ message: String) {
        var line = "slirp4netns: " + message + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
