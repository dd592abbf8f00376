//! Worlds of several node kinds.
//!
//! A [`World`](crate::World) holds one node type. A system with several roles (a server and
//! its clients, a miner's server, miners and clients) declares one enum over them with
//! [`node_kinds!`](crate::node_kinds), which writes the delegation that would otherwise be
//! a match per handler per system.

/// Reach one kind of node inside an enum declared with [`node_kinds!`](crate::node_kinds).
pub trait Kind<T> {
    /// The node, if it is of kind `T`.
    fn as_kind(&self) -> Option<&T>;
    /// The node, mutably, if it is of kind `T`.
    fn as_kind_mut(&mut self) -> Option<&mut T>;
}

/// Declare an enum with one variant per node kind and implement [`Node`](crate::Node) for
/// it by delegating every handler to the variant. Each variant holds a distinct type. The
/// enum also gets `From` for each kind and `kind::<T>()` / `kind_mut::<T>()` to reach a kind.
///
/// Kinds record the enum's history event type, or one of their own that a variant names a
/// wrapper for (`Replica(Replica) => ExerciseEvent::Counter`): that kind's events are
/// wrapped into the enum's type as they are recorded (see [`Ctx::nest`](crate::Ctx::nest)).
///
/// Timer tags travel as [`RawTimer`](crate::RawTimer) and are decoded into the variant's own
/// tag type before its `on_timer`.
///
/// ```
/// use faultline::{Ctx, Node};
///
/// struct Server;
/// struct Client { sent: bool }
///
/// impl Node for Server {
///     type Event = ();
///     type Timer = ();
///     fn on_start(&mut self, _: &mut Ctx<'_, ()>) {}
/// }
/// impl Node for Client {
///     type Event = ();
///     type Timer = ();
///     fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
///         ctx.send(faultline::Addr(0), b"hi".to_vec());
///         self.sent = true;
///     }
/// }
///
/// faultline::node_kinds! {
///     /// Every node of this little system.
///     pub enum Demo: () { Server(Server), Client(Client) }
/// }
///
/// let mut world = faultline::World::<Demo>::new(1);
/// world.add_node(|_| Server.into());
/// let c = world.add_node(|_| Client { sent: false }.into());
/// world.run_until(faultline::Time::from_millis(10)).unwrap();
/// assert!(world.node(c).unwrap().kind::<Client>().unwrap().sent);
/// assert!(world.node(c).unwrap().kind::<Server>().is_none());
/// ```
#[macro_export]
macro_rules! node_kinds {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $event:ty {
            $( $(#[$vmeta:meta])* $variant:ident($kind:ty) $(=> $wrap:path)? ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant($kind) ),+
        }

        impl $crate::Node for $name {
            type Event = $event;
            type Timer = $crate::RawTimer;

            fn on_start(&mut self, ctx: &mut $crate::Ctx<'_, $event>) {
                match self {
                    $( $name::$variant(n) => $crate::__kind_ctx!(ctx $(, $wrap)? => |c| $crate::Node::on_start(n, c)) ),+
                }
            }

            fn on_datagram(
                &mut self,
                ctx: &mut $crate::Ctx<'_, $event>,
                from: $crate::Addr,
                data: &[u8],
            ) {
                match self {
                    $( $name::$variant(n) => {
                        $crate::__kind_ctx!(ctx $(, $wrap)? => |c| $crate::Node::on_datagram(n, c, from, data))
                    } ),+
                }
            }

            fn on_timer(
                &mut self,
                ctx: &mut $crate::Ctx<'_, $event>,
                timer: $crate::TimerId,
                tag: $crate::RawTimer,
            ) {
                match self {
                    $( $name::$variant(n) => {
                        let tag = $crate::timer::decode(tag.0);
                        $crate::__kind_ctx!(ctx $(, $wrap)? => |c| $crate::Node::on_timer(n, c, timer, tag))
                    } ),+
                }
            }

            fn on_stream(&mut self, ctx: &mut $crate::Ctx<'_, $event>, event: $crate::StreamEvent) {
                match self {
                    $( $name::$variant(n) => {
                        $crate::__kind_ctx!(ctx $(, $wrap)? => |c| $crate::Node::on_stream(n, c, event))
                    } ),+
                }
            }
        }

        $(
            impl From<$kind> for $name {
                fn from(node: $kind) -> $name {
                    $name::$variant(node)
                }
            }

            impl $crate::Kind<$kind> for $name {
                fn as_kind(&self) -> Option<&$kind> {
                    match self {
                        $name::$variant(n) => Some(n),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
                fn as_kind_mut(&mut self) -> Option<&mut $kind> {
                    match self {
                        $name::$variant(n) => Some(n),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
            }
        )+

        impl $name {
            /// This node, if it is of kind `T`.
            #[allow(dead_code)]
            pub fn kind<T>(&self) -> Option<&T>
            where
                Self: $crate::Kind<T>,
            {
                $crate::Kind::<T>::as_kind(self)
            }

            /// This node, mutably, if it is of kind `T`.
            #[allow(dead_code)]
            pub fn kind_mut<T>(&mut self) -> Option<&mut T>
            where
                Self: $crate::Kind<T>,
            {
                $crate::Kind::<T>::as_kind_mut(self)
            }
        }
    };
}

/// One handler call of [`node_kinds!`](crate::node_kinds): straight through, or through
/// [`Ctx::nest`](crate::Ctx::nest) when the kind's events are wrapped.
#[doc(hidden)]
#[macro_export]
macro_rules! __kind_ctx {
    ($ctx:ident => |$c:ident| $call:expr) => {{
        let $c = $ctx;
        $call
    }};
    ($ctx:ident, $wrap:path => |$c:ident| $call:expr) => {
        $ctx.nest($wrap, |$c| $call)
    };
}
