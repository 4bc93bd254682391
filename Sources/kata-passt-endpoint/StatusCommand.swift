/// status: running, stopped or stale, read without changing anything (stale files stay for attach or
/// detach to remove).
enum StatusCommand {
    static func run(_ invocation: Invocation) throws(Failure) -> [(key: String, value: JSON)] {
        let paths = try EndpointPaths(index: invocation.index, directory: invocation.directory)
        // Shared: never sees an attach or detach of this directory half done.
        try DirectoryLock.acquire(paths.directory, exclusive: false)
        if let passt = try? PasstLauncher.locate() { PasstIdentity.remember(launcher: passt) }
        return EndpointState.inspect(paths).fields
    }
}
