//! The entries the model reads (clusters, contexts, users, and a user's exec and
//! extensions) as the line scanner reads them: each key the model names at most once
//! (twice goes to the full parser, which keeps the last), any other key skipped.

use super::super::super::model::{
    Cluster, Context, CoreweaveTokenExtension, Exec, NamedCluster, NamedContext, NamedExtension,
    NamedUser, User,
};
use super::scalar::*;
use super::{ByteString, Nested, Parser};

impl<'a> Parser<'a> {
    pub(super) fn named_cluster(&mut self, m: usize, rest: Text<'a>) -> R<NamedCluster> {
        let (name, cluster) = self.named(m, rest, "cluster", Self::cluster)?;
        Ok(NamedCluster { name, cluster })
    }

    fn cluster(&mut self, c: usize) -> R<Cluster> {
        let mut out = Cluster::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            match key {
                "server" => {
                    once(&mut seen, 1)?;
                    out.server = self.string(c, rest)?;
                }
                "certificate-authority-data" => {
                    once(&mut seen, 2)?;
                    out.certificate_authority_data = self.string(c, rest)?;
                }
                "certificate-authority" => {
                    once(&mut seen, 4)?;
                    out.certificate_authority = self.string(c, rest)?;
                }
                "insecure-skip-tls-verify" => {
                    once(&mut seen, 8)?;
                    out.insecure_skip_tls_verify = self.boolean(c, rest)?;
                }
                "tls-server-name" => {
                    once(&mut seen, 16)?;
                    out.tls_server_name = self.string(c, rest)?;
                }
                "proxy-url" => {
                    once(&mut seen, 32)?;
                    out.proxy_url = self.string(c, rest)?;
                }
                _ => {
                    self.skip(c, rest)?;
                }
            }
        }
        Ok(out)
    }

    pub(super) fn named_context(&mut self, m: usize, rest: Text<'a>) -> R<NamedContext> {
        let (name, context) = self.named(m, rest, "context", Self::context)?;
        Ok(NamedContext { name, context })
    }

    fn context(&mut self, c: usize) -> R<Context> {
        let mut out = Context::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            match key {
                "cluster" => {
                    once(&mut seen, 1)?;
                    out.cluster = self.string(c, rest)?;
                }
                "user" => {
                    once(&mut seen, 2)?;
                    out.user = self.string(c, rest)?;
                }
                "namespace" => {
                    once(&mut seen, 4)?;
                    out.namespace = self.string(c, rest)?;
                }
                _ => {
                    self.skip(c, rest)?;
                }
            }
        }
        Ok(out)
    }

    pub(super) fn named_user(&mut self, m: usize, rest: Text<'a>) -> R<NamedUser> {
        self.token = None;
        let out = self.named_user_entry(m, rest)?;
        let span = self.token.take();
        self.user_tokens.push(span);
        Ok(out)
    }

    fn named_user_entry(&mut self, m: usize, rest: Text<'a>) -> R<NamedUser> {
        let (name, user) = self.named(m, rest, "user", Self::user)?;
        Ok(NamedUser { name, user })
    }

    fn user(&mut self, c: usize) -> R<User> {
        let mut out = User::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            match key {
                "token" => {
                    once(&mut seen, 1)?;
                    self.token = self.span_of(rest)?;
                    out.token = self.string(c, rest)?.map(crate::secret::Token::new);
                }
                "tokenFile" => {
                    once(&mut seen, 2)?;
                    out.token_file = self.string(c, rest)?;
                }
                "exec" => {
                    once(&mut seen, 4)?;
                    out.exec = self.opt_struct(c, rest, Self::exec)?;
                }
                "auth-provider" => {
                    once(&mut seen, 8)?;
                    out.auth_provider = self.presence(c, rest)?;
                }
                "client-certificate" => {
                    once(&mut seen, 16)?;
                    out.client_certificate = self.presence(c, rest)?;
                }
                "client-certificate-data" => {
                    once(&mut seen, 32)?;
                    out.client_certificate_data = self.presence(c, rest)?;
                }
                "username" => {
                    once(&mut seen, 64)?;
                    out.username = self.presence(c, rest)?;
                }
                "extensions" => {
                    once(&mut seen, 128)?;
                    out.extensions = self.list(c, rest, Self::named_extension, 0)?;
                }
                _ => {
                    self.skip(c, rest)?;
                }
            }
        }
        Ok(out)
    }

    /// A user's `exec:` mapping: the `command` and `args` the model keeps; other keys
    /// are skipped.
    fn exec(&mut self, c: usize) -> R<Exec> {
        let mut out = Exec::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            match key {
                "command" => {
                    once(&mut seen, 1)?;
                    out.command = self.string(c, rest)?;
                }
                "args" => {
                    once(&mut seen, 2)?;
                    out.args = self.strings(c, rest)?;
                }
                _ => {
                    self.skip(c, rest)?;
                }
            }
        }
        Ok(out)
    }

    /// A list of strings of a mapping at column `n` (`args`): `None` for null; each item
    /// a scalar on its `-` line (anything else goes to the full parser).
    fn strings(&mut self, n: usize, rest: Text<'a>) -> R<Option<Vec<Option<ByteString>>>> {
        match value(rest)? {
            Val::Empty => match self.nested(n, true)? {
                Nested::Null => Ok(None),
                Nested::Seq(m) => {
                    self.enter()?;
                    let mut out = Vec::new();
                    while let Some(item) = self.seq_entry(m)? {
                        if let Val::Empty = value(item)? {
                            return Err(Bail);
                        }
                        out.push(self.string(m, item)?);
                    }
                    self.leave();
                    Ok(Some(out))
                }
                Nested::Map(_) => Err(Bail),
            },
            Val::EmptySeq => {
                self.no_deeper(n)?;
                Ok(Some(Vec::new()))
            }
            Val::Plain(s) if is_null(s) => {
                self.no_deeper(n)?;
                Ok(None)
            }
            _ => Err(Bail),
        }
    }

    /// An entry of a user's `extensions`: its name, and the fields of the
    /// `coreweave.com/token` record the model keeps (a mapping of strings; any other shape
    /// goes to the full parser, whose lenient reading decides).
    fn named_extension(&mut self, m: usize, rest: Text<'a>) -> R<NamedExtension> {
        let (name, extension) = self.named(m, rest, "extension", Self::extension)?;
        Ok(NamedExtension { name, extension })
    }

    fn extension(&mut self, c: usize) -> R<CoreweaveTokenExtension> {
        let mut out = CoreweaveTokenExtension::default();
        let mut seen = 0u8;
        while let Some((key, rest)) = self.entry(c)? {
            match key {
                "expires" => {
                    once(&mut seen, 1)?;
                    out.expires = self.string(c, rest)?;
                }
                "source" => {
                    once(&mut seen, 2)?;
                    out.source = self.string(c, rest)?;
                }
                "rotatedAt" => {
                    once(&mut seen, 4)?;
                    out.rotated_at = self.string(c, rest)?;
                }
                _ => {
                    self.skip(c, rest)?;
                }
            }
        }
        Ok(out)
    }
}
