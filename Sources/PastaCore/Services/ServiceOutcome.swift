/// What a service made of a frame: a reply of some length in the reply buffer, a frame meant for it that it
/// dropped (with the reason, logged at debug), or a frame that is none of its business.
public enum ServiceOutcome: Equatable {
    case reply(Int)
    case dropped(String)
    case notForUs

    public var replyLength: Int? {
        if case .reply(let length) = self { return length }
        return nil
    }
}
