//! Typed flag sets: [`ExportFlags`] (what [`create`](crate::create) makes) and [`Seals`] (what
//! a memfd's `F_GET_SEALS` reports).

use std::io;
use std::ops::BitOr;

/// How [`create`](crate::create) makes a memfd. The bit values are part of the C ABI
/// (`ermfs.h`): `SEALED = 1`, `EXECUTABLE = 2`, `HUGETLB = 4`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ExportFlags(u32);

impl ExportFlags {
    /// Seal the finished memfd against writes, growth and shrinking (the caller applies it with
    /// [`seal`](crate::seal) once the bytes are in: `create` itself does not seal).
    pub const SEALED: ExportFlags = ExportFlags(1);
    /// Make it executable: no `MFD_NOEXEC_SEAL` (`MFD_EXEC` where the kernel knows it) and mode
    /// `0o755`, for [`fexecve`](crate::fexecve).
    pub const EXECUTABLE: ExportFlags = ExportFlags(2);
    /// Back it with huge pages (`MFD_HUGETLB`); see [`create`](crate::create) for the costs.
    pub const HUGETLB: ExportFlags = ExportFlags(4);

    /// Every bit this version knows.
    const ALL: u32 = 1 | 2 | 4;

    /// No flag: a plain, writable, non-executable memfd.
    pub const fn empty() -> ExportFlags {
        ExportFlags(0)
    }

    /// The flags of `bits`, or `EINVAL` if a bit is unknown.
    pub fn from_bits(bits: u32) -> io::Result<ExportFlags> {
        if bits & !Self::ALL == 0 {
            Ok(ExportFlags(bits))
        } else {
            Err(io::Error::from_raw_os_error(libc::EINVAL))
        }
    }

    /// The raw bits (the C ABI value).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: ExportFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for ExportFlags {
    type Output = ExportFlags;

    fn bitor(self, rhs: ExportFlags) -> ExportFlags {
        ExportFlags(self.0 | rhs.0)
    }
}

/// The seals on a memfd (`fcntl(F_GET_SEALS)`), as [`seals`](crate::seals) reports them. Bit
/// values are the kernel's `F_SEAL_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seals(u32);

impl Seals {
    /// `F_SEAL_SEAL`: no further seal can be added.
    pub const SEAL: Seals = Seals(libc::F_SEAL_SEAL as u32);
    /// `F_SEAL_SHRINK`: the size cannot decrease.
    pub const SHRINK: Seals = Seals(libc::F_SEAL_SHRINK as u32);
    /// `F_SEAL_GROW`: the size cannot increase.
    pub const GROW: Seals = Seals(libc::F_SEAL_GROW as u32);
    /// `F_SEAL_WRITE`: the bytes cannot change (no `write`, no writable shared mapping).
    pub const WRITE: Seals = Seals(libc::F_SEAL_WRITE as u32);
    /// `F_SEAL_FUTURE_WRITE`: no new way to write, existing writable mappings still write.
    pub const FUTURE_WRITE: Seals = Seals(libc::F_SEAL_FUTURE_WRITE as u32);
    /// `F_SEAL_EXEC` (Linux 6.3+): the mode's exec bits cannot change; set by `MFD_NOEXEC_SEAL`.
    pub const EXEC: Seals = Seals(libc::F_SEAL_EXEC as u32);
    /// What [`seal`](crate::seal) applies: the content and size are frozen for good, so a
    /// receiver holding a memfd with these seals can trust it is immutable.
    pub const IMMUTABLE: Seals = Seals(
        (libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL) as u32,
    );

    /// Seals from raw `F_SEAL_*` bits (unknown bits are kept, as the kernel may add seals).
    pub const fn from_bits(bits: u32) -> Seals {
        Seals(bits)
    }

    /// The raw `F_SEAL_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every seal of `other` is set in `self`.
    pub const fn contains(self, other: Seals) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Seals {
    type Output = Seals;

    fn bitor(self, rhs: Seals) -> Seals {
        Seals(self.0 | rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_flags_round_trip_and_reject_unknown_bits() {
        for bits in 0..8 {
            assert_eq!(ExportFlags::from_bits(bits).unwrap().bits(), bits);
        }
        for bits in [8, 16, 1 << 31, u32::MAX] {
            let err = ExportFlags::from_bits(bits).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        }
        let both = ExportFlags::SEALED | ExportFlags::HUGETLB;
        assert_eq!(both.bits(), 5);
        assert!(both.contains(ExportFlags::SEALED));
        assert!(!both.contains(ExportFlags::EXECUTABLE));
        assert!(both.contains(ExportFlags::empty()));
        assert_eq!(ExportFlags::default(), ExportFlags::empty());
    }

    #[test]
    fn immutable_seals_are_the_four_kernel_bits() {
        let four = Seals::SHRINK | Seals::GROW | Seals::WRITE | Seals::SEAL;
        assert_eq!(four, Seals::IMMUTABLE);
        assert_eq!(Seals::IMMUTABLE.bits(), 0xf);
        assert!(!Seals::IMMUTABLE.contains(Seals::EXEC));
    }
}
