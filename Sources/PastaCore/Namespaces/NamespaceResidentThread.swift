import CLinux
import Glibc

/// A thread that stays in a network namespace and runs what other threads hand it, one call at a time,
/// while they wait. For processes that may enter the namespace but not come back (see `NetworkNamespace`):
/// a socket per spliced connection then costs two wake-ups instead of a thread created and torn down.
/// Started on first use, and again in a forked child, which inherits no threads.
final class NamespaceResidentThread: @unchecked Sendable {
    private let namespace: Int32
    /// Guards everything below; a new one per process, as a fork copies a lock's state but not its waiters.
    private var rendezvous: Rendezvous?
    private var owner: pid_t = 0
    private var state = State.starting
    private var work: (() -> Void)?
    private var finished = false

    private enum State { case starting, ready, failed }

    /// `namespace` is a network namespace descriptor that outlives this object.
    init(namespace: Int32) { self.namespace = namespace }

    /// Runs `body` on the resident thread; nil when it can't join the namespace.
    func run<T>(_ body: () -> T) -> T? {
        guard let rendezvous = started() else { return nil }
        var result: T?
        withoutActuallyEscaping(body) { escapable in
            rendezvous.lock()
            while work != nil { rendezvous.wait() }  // another caller's turn
            guard state == .ready else { return rendezvous.unlock() }
            work = { result = escapable() }
            finished = false
            rendezvous.signal()
            while !finished { rendezvous.wait() }
            work = nil
            rendezvous.signal()
            rendezvous.unlock()
        }
        return result
    }

    /// The rendezvous of a thread running in this process, started if needed; nil if it can't start.
    private func started() -> Rendezvous? {
        if let rendezvous, owner == getpid() {
            rendezvous.lock()
            defer { rendezvous.unlock() }
            return state == .ready ? rendezvous : nil
        }
        let fresh = Rendezvous()
        rendezvous = fresh
        owner = getpid()
        state = .starting
        work = nil
        let context = Unmanaged.passRetained(self).toOpaque()  // released by the thread if it ends
        guard CLinux_start_thread({ raw in
            Unmanaged<NamespaceResidentThread>.fromOpaque(raw!).takeUnretainedValue().serve()
        }, context) == 0 else {
            Unmanaged<NamespaceResidentThread>.fromOpaque(context).release()
            state = .failed
            return nil
        }
        fresh.lock()
        defer { fresh.unlock() }
        while state == .starting { fresh.wait() }
        return state == .ready ? fresh : nil
    }

    /// The thread: joins the namespace, then runs each call handed to it.
    private func serve() {
        guard let rendezvous else { return }
        let joined = CLinux_setns(namespace, CLinux_CLONE_NEWNET) == 0
        rendezvous.lock()
        state = joined ? .ready : .failed
        rendezvous.signal()
        guard joined else {
            rendezvous.unlock()
            Unmanaged.passUnretained(self).release()
            return
        }
        while true {
            while work == nil || finished { rendezvous.wait() }
            work?()
            finished = true
            rendezvous.signal()
        }
    }
}

/// A mutex and a condition variable at stable addresses.
private final class Rendezvous {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func wait() { pthread_cond_wait(condition, mutex) }
    /// Wakes every waiter: the resident thread and callers waiting for their turn share one condition.
    func signal() { pthread_cond_broadcast(condition) }
}
