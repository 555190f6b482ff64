//! The one conversion of nfq-core's errors to JavaScript: thrown by a napi function, or passed
//! to `onBatch` by either reader.

use napi::bindgen_prelude::*;

/// `error` as a JavaScript Error with `code` (the errno name), `kind` and `errno`, plus what
/// the error knows: `option`, `queue`, `ownerPortId`, `ownerPid`, `ownerCommand`, `feature`,
/// `user`. Every error the binding raises, thrown or passed to a callback, is made here.
pub(crate) fn error_object<'env>(env: &'env Env, error: &nfq_core::Error) -> Result<Object<'env>> {
    let mut message = error.to_string();
    // JavaScript errors carry no chain of causes: the OS error's text (the Rust error's source)
    // joins the message, once.
    if let Some(source) = std::error::Error::source(error) {
        message = format!("{message}: {source}");
    }
    if let nfq_core::Error::InvalidArgument { option, .. } = error {
        // A range error starts with nfq-core's name of the option; JavaScript names it by `option`.
        if let Some(rest) = message.strip_prefix(option).and_then(|m| m.strip_prefix(": ")) {
            message = rest.to_owned();
        }
    }
    let mut object = env.create_error(Error::new(Status::GenericFailure, message))?;
    object.set_named_property("code", error.code().as_ref())?;
    object.set_named_property("kind", error.kind().name())?;
    if let Some(errno) = error.errno() {
        object.set_named_property("errno", errno)?;
    }
    match error {
        nfq_core::Error::InvalidArgument { option, .. } => {
            object.set_named_property("option", nfq_core::facts::js_option_name(option).unwrap_or(option))?;
        }
        nfq_core::Error::AlreadyBound { queue, owner_port_id, owner_process } => {
            object.set_named_property("queue", *queue as u32)?;
            if let Some(port) = owner_port_id {
                object.set_named_property("ownerPortId", *port)?;
            }
            if let Some((pid, command)) = owner_process {
                object.set_named_property("ownerPid", *pid)?;
                object.set_named_property("ownerCommand", command.as_str())?;
            }
        }
        nfq_core::Error::Unsupported { feature: Some(feature), .. } => {
            object.set_named_property("feature", *feature)?;
        }
        nfq_core::Error::UserNotFound { user } => {
            object.set_named_property("user", user.as_str())?;
        }
        _ => {}
    }
    Ok(object)
}

/// Throws `error` (made by [`error_object`]) and returns what the napi function returns.
pub(crate) fn throw(env: &Env, error: nfq_core::Error) -> Error {
    let thrown = error_object(env, &error).and_then(|object| env.throw(object));
    match thrown {
        Ok(()) => Error::from_status(Status::PendingException),
        Err(e) => e,
    }
}

/// The first argument of `onBatch`: null, or the error (made by [`error_object`]); the reader thread passes it too.
pub struct BatchError(pub Option<nfq_core::Error>);

impl ToNapiValue for BatchError {
    unsafe fn to_napi_value(env: napi::sys::napi_env, value: Self) -> Result<napi::sys::napi_value> {
        match value.0 {
            // SAFETY: `env` is the live env napi called this conversion with, on its own thread.
            None => unsafe { ToNapiValue::to_napi_value(env, Null) },
            Some(error) => {
                let env = Env::from_raw(env);
                Ok(error_object(&env, &error)?.raw())
            }
        }
    }
}
