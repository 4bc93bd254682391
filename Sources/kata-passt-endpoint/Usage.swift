/// `kata-passt-endpoint --help`.
enum Usage {
    static var text: String {
        let codes = FailureKind.allCases.map { kind -> String in
            let status = String(kind.exitStatus)
            let pad = String(repeating: " ", count: max(1, 4 - status.count))
            let name = kind.rawValue + String(repeating: " ", count: max(1, 17 - kind.rawValue.count))
            return "  \(pad)\(status)  \(name)\(kind.meaning)"
        }.joined(separator: "\n")
        return """
        Usage: kata-passt-endpoint attach --index N [--dir DIR] [--mac MAC] [--replace] [--timeout S] [-- PASST-OPTIONS...]
               kata-passt-endpoint detach --index N [--dir DIR]
               kata-passt-endpoint status --index N [--dir DIR]

        Runs passt for one network endpoint of a Kata Containers sandbox and stops it, the way Kata's passt
        networking model does (internetworking_model=passt): passt -P DIR/kata-passt-N.pid -s DIR/kata-passt-N.socket.
        Every answer is one JSON object on standard output; messages for people go to standard error.

          attach   runs passt (the one next to this program, else passt on PATH) with -P and -s for index N
                   and the PASST-OPTIONS, waits for it to daemonise, checks that the PID is a live passt for
                   this endpoint and that the socket accepts connections, and answers with pid, socket,
                   pidFile, mac and qemuArgs (qemu 7.2 or later: -netdev stream,... -device virtio-net-pci,...).
                   Stale files of a crashed passt are removed first; an index whose passt runs is an error
                   unless --replace (which stops it first).
          detach   SIGQUIT to the passt of index N (SIGKILL if it is still there after 5 s), then removes both
                   files. Nothing running is not an error: the answer says so.
          status   state "running", "stopped" or "stale" (files left by a dead or foreign process), with
                   pid, socket and the reason for "stale". Changes nothing.

          --index N    0 to \(Invocation.maximumIndex)
          --dir DIR    where the PID file and socket live (default /tmp, as Kata)
          --mac MAC    the VM's MAC address in qemuArgs (default 52:54:00:4b: and the index in two bytes)
          --replace    attach: stop the running passt of this index first
          --timeout S  attach: seconds to wait for passt to return (default \(Invocation.defaultStartTimeout))
          PASST-OPTIONS  after "--": passt's own options (-t, -u, --mtu...); -P, -s, -F, -f and -1 are set or
                       ruled out by this program.

        A PID from a file is signalled only while /proc shows a live passt (or pasta) whose command line
        names that endpoint's PID file and socket: a PID reused by another program is left alone.

        Exit status: 0 on success;
        \(codes)
        A failure answers {"ok":false,"error":NAME,"exitCode":STATUS,"message":...} and leaves nothing running.
        """
    }
}
