//! Accounts from the system's account database (`getpwuid_r`), for the paths of a service or a
//! sudoers rule: the home directory is looked up, never assumed to be `/Users/<name>`.

use std::ffi::CStr;
use std::path::PathBuf;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub home: PathBuf,
}

/// The account of `uid`, if the database has one with a UTF-8 name and an absolute home.
pub fn by_uid(uid: u32) -> Option<Account> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain data; zeroed is a valid initial value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and buf's length is passed.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() || pwd.pw_dir.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r NUL-terminated both strings inside buf, which is still alive.
    let (name, dir) = unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
    let home = PathBuf::from(dir.to_str().ok()?);
    Some(Account {
        name: name.to_str().ok()?.to_string(),
        uid,
        home: home.is_absolute().then_some(home)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_in_the_database() {
        let root = by_uid(0).expect("uid 0 has an account");
        assert_eq!(root.name, "root");
        assert!(root.home.is_absolute());
    }

    #[test]
    fn an_unused_uid_has_no_account() {
        assert_eq!(by_uid(3_999_999_999), None);
    }
}
