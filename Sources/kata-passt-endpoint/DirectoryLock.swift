import Glibc

/// An flock(2) on the endpoint directory, so two helpers never start or stop the same index at once.
/// The directory itself is locked, not a lock file, so nothing is left behind; the descriptor is
/// close-on-exec, so passt never inherits (and holds) the lock. Released when the process exits.
struct DirectoryLock {
    static let waitMilliseconds = 10_000

    /// `exclusive` for attach and detach, shared for status (which only reads).
    static func acquire(_ directory: String, exclusive: Bool) throws(Failure) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(.badDirectory, "can't open \(directory): \(errnoText())") }
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
        var waited = 0
        while flock(fd, operation) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let error = errnoText()
                close(fd)
                throw Failure(.badDirectory, "can't lock \(directory): \(error)")
            }
            guard waited < waitMilliseconds else {
                close(fd)
                throw Failure(.busy, "\(directory) stayed locked by another kata-passt-endpoint for \(waitMilliseconds / 1000) s")
            }
            usleep(20_000)
            waited += 20
        }
        // The descriptor stays open (and locked) until this short-lived process exits.
    }
}
