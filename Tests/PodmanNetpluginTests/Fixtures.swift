/// Documents as runc and Podman 4.3.1 hand them to the hook.
enum Fixtures {
    static let containerID = "a243ad8d09ed87a1f776e9a85bb6145ba1feae3ef104fb9c25ec065bf5b9ecb1"

    static let state = """
        {"ociVersion":"1.0.2-dev","id":"\(containerID)","status":"creating","pid":24555,\
        "bundle":"/tmp/podman/store/vfs-containers/\(containerID)/userdata",\
        "annotations":{"io.container.manager":"libpod",\
        "io.containers.pasta.ports":"18080:80 127.0.0.1:18081:80;[::1]:8443-8444:443-444/tcp 5353:53/udp",\
        "io.containers.pasta.options":"--mtu 1500 -D 192.0.2.53","io.kubernetes.cri-o.TTY":"false",\
        "org.opencontainers.image.stopSignal":"15"}}
        """

    static let ports = "18080:80 127.0.0.1:18081:80;[::1]:8443-8444:443-444/tcp 5353:53/udp [2001:db8::1]:53:5353/udp"

    static let config = """
        {"ociVersion":"1.0.2-dev","process":{"user":{"uid":0,"gid":0},"args":["httpd","-f","-p","80"],\
        "env":["PATH=/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_CHOWN"]}},\
        "root":{"path":"/tmp/podman/store/vfs/dir/6ce2dce7"},"hostname":"dfe9776657e1",\
        "mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},\
        {"destination":"/etc/hosts","type":"bind","source":"/tmp/podman/run/userdata/hosts","options":["bind","rprivate"]},\
        {"destination":"/etc/hostname","type":"bind","source":"/tmp/podman/run/userdata/hostname","options":["bind","rprivate"]}],\
        "linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"mount"}],\
        "seccomp":{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["accept","bind"],"action":"SCMP_ACT_ALLOW","args":[]}]}},\
        "hooks":{"createRuntime":[{"path":"/usr/libexec/podman/podman-netplugin","args":["podman-netplugin","createRuntime"]}]}}
        """
}
