//! The Redis channels of a server or an emitter, all under one prefix (Flask-SocketIO's
//! `channel`), shaped like those of socket.io's Redis adapter:
//!
//! - `<prefix>#<namespace>#`, e.g. `carafe-socketio#/#`: what one namespace's
//!   operations tell every process (broadcasts, disconnects, closed rooms, queries);
//! - `<prefix>-response#<uid>#`: the answers to the queries of the process `uid`.
//!
//! A server subscribes to the pattern `<prefix>#*` and to its own response channel, so a
//! namespace made after start-up needs no new subscription.

/// The prefix when none is configured. Not socket.io's `socket.io`: the envelope is
/// carafe's own, and servers of another kind on the same Redis should not see it.
pub(crate) const DEFAULT_PREFIX: &str = "carafe-socketio";

/// Channel names under one prefix.
#[derive(Clone, Debug)]
pub(crate) struct Channels {
    prefix: String,
}

impl Channels {
    pub(crate) fn new(prefix: &str) -> Channels {
        Channels {
            prefix: prefix.to_owned(),
        }
    }

    /// Where a namespace's operations go.
    pub(crate) fn namespace(&self, nsp: &str) -> String {
        format!("{}#{nsp}#", self.prefix)
    }

    /// The pattern that matches every namespace's channel.
    pub(crate) fn namespaces_pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + 2);
        for c in self.prefix.chars() {
            // Glob characters in the prefix stand for themselves.
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push_str("#*");
        pattern
    }

    /// Where the answers to the queries of process `uid` go.
    pub(crate) fn responses(&self, uid: u64) -> String {
        format!("{}-response#{uid:016x}#", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let channels = Channels::new(DEFAULT_PREFIX);
        assert_eq!(channels.namespace("/"), "carafe-socketio#/#");
        assert_eq!(channels.namespace("/admin"), "carafe-socketio#/admin#");
        assert_eq!(channels.namespaces_pattern(), "carafe-socketio#*");
        assert_eq!(
            channels.responses(0xab),
            "carafe-socketio-response#00000000000000ab#"
        );
        assert_eq!(Channels::new("a*b[c]").namespaces_pattern(), r"a\*b\[c\]#*");
    }
}
