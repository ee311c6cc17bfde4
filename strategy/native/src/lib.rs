//! `phantom_pipeline._native`: the Rust half of the Python package.
//!
//! It exports the record schema (field tables, sizes, layout hashes) from which the Python
//! side builds every numpy dtype, and segments as objects implementing the buffer protocol,
//! so numpy views over shared memory are zero-copy and keep the mapping alive. Ring and table
//! operations on the Python side are numba code over those views (`phantom_pipeline.ringops`);
//! nothing here is on a hot path.
#![deny(unsafe_op_in_unsafe_fn)]

use phantom_ringbuf::clock;
use phantom_ringbuf::names;
use phantom_ringbuf::records::CONSTANT_GROUPS;
use phantom_ringbuf::records::{
    ExecReport, FeederBlock, MarketUpdate, OrderIntent, PoolState, ProbeRecord, SegmentHeader,
    SignerBlock, StrategyBlock, SupervisorBlock, ABI_VERSION, HEADER_SIZE, HEAD_OFFSET, MAGIC,
    TAIL_OFFSET, WAITER_OFFSET,
};
use phantom_ringbuf::schema::{self as rschema, Container, Record, RecordId};
use phantom_ringbuf::segment::{self, CreateOptions, Layout, Liveness, SegmentError};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::os::raw::{c_int, c_void};

mod sandbox;

create_exception!(
    _native,
    SegmentError_,
    PyException,
    "Base class of every segment error."
);
create_exception!(
    _native,
    SchemaMismatchError,
    SegmentError_,
    "A segment's header does not match this build: wrong magic, abi_version, record_kind, layout_hash, record_size or capacity."
);
create_exception!(
    _native,
    SegmentTruncatedError,
    SegmentError_,
    "A segment is smaller than its header says."
);
create_exception!(
    _native,
    SegmentNotFoundError,
    SegmentError_,
    "No segment of that name exists."
);
create_exception!(
    _native,
    SegmentExistsError,
    SegmentError_,
    "A segment of that name already exists."
);
create_exception!(
    _native,
    SegmentLiveError,
    SegmentError_,
    "The segment is in use and was not removed."
);

fn to_py(py: Python<'_>, e: SegmentError) -> PyErr {
    let msg = e.to_string();
    match e {
        SegmentError::Mismatch {
            segment,
            field,
            found,
            expected,
        } => {
            let err = SchemaMismatchError::new_err(msg);
            let value = err.value(py);
            // Attribute setting on a fresh exception instance cannot fail in practice; if it
            // did, the message still names everything.
            let _ = value.setattr("segment", segment);
            let _ = value.setattr("field", field);
            let _ = value.setattr("found", found);
            let _ = value.setattr("expected", expected);
            err
        }
        SegmentError::Truncated { .. } => SegmentTruncatedError::new_err(msg),
        SegmentError::NotFound { .. } => SegmentNotFoundError::new_err(msg),
        SegmentError::AlreadyExists { .. } => SegmentExistsError::new_err(msg),
        SegmentError::Live { .. } => SegmentLiveError::new_err(msg),
        SegmentError::Invalid { .. } | SegmentError::Os { .. } | SegmentError::Foreign { .. } => {
            SegmentError_::new_err(msg)
        }
    }
}

fn record_layout(name: &str, container: &str) -> PyResult<(Container, Layout)> {
    let container = match container {
        "ring" => Container::Ring,
        "table" => Container::Table,
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown container {other:?}: expected 'ring' or 'table'"
            )))
        }
    };
    let layout = match RecordId::from_name(name) {
        Some(RecordId::MarketUpdate) => Layout::of::<MarketUpdate>(container),
        Some(RecordId::PoolState) => Layout::of::<PoolState>(container),
        Some(RecordId::OrderIntent) => Layout::of::<OrderIntent>(container),
        Some(RecordId::ExecReport) => Layout::of::<ExecReport>(container),
        Some(RecordId::SupervisorBlock) => Layout::of::<SupervisorBlock>(container),
        Some(RecordId::FeederBlock) => Layout::of::<FeederBlock>(container),
        Some(RecordId::SignerBlock) => Layout::of::<SignerBlock>(container),
        Some(RecordId::StrategyBlock) => Layout::of::<StrategyBlock>(container),
        Some(RecordId::ProbeRecord) => Layout::of::<ProbeRecord>(container),
        _ => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown record {name:?}"
            )))
        }
    };
    Ok((container, layout))
}

fn ring_end(role: &str) -> PyResult<phantom_ringbuf::ring::End> {
    match role {
        "producer" => Ok(phantom_ringbuf::ring::End::Producer),
        "consumer" => Ok(phantom_ringbuf::ring::End::Consumer),
        _ => Err(PyValueError::new_err(format!(
            "ring end {role:?}: expected \"producer\" or \"consumer\""
        ))),
    }
}

/// A mapped segment. Implements the buffer protocol (writable bytes of the whole mapping):
/// `numpy.frombuffer(seg, ...)` views it without copying and keeps it mapped.
#[pyclass(module = "phantom_pipeline._native", frozen)]
struct Segment {
    inner: segment::Segment,
}

#[pymethods]
impl Segment {
    /// Create a segment of `capacity` records named `record` in a `container`.
    #[staticmethod]
    #[pyo3(signature = (name, record, container, capacity, instance="", role="", initial_index=0, mlock=false))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        name: &str,
        record: &str,
        container: &str,
        capacity: u32,
        instance: &str,
        role: &str,
        initial_index: u64,
        mlock: bool,
    ) -> PyResult<Self> {
        let (container, layout) = record_layout(record, container)?;
        let opts = CreateOptions {
            instance: instance.to_owned(),
            role: role.to_owned(),
            initial_index,
            mlock,
        };
        segment::Segment::create(name, container, layout, capacity, &opts)
            .map(|inner| Segment { inner })
            .map_err(|e| to_py(py, e))
    }

    /// Map `name` and validate it against this build's `record` in `container`. With
    /// `read_only`, the mapping comes from an `O_RDONLY` descriptor: the buffer is exported
    /// read-only, a write through its address faults, and it can never be made writable.
    #[staticmethod]
    #[pyo3(signature = (name, record, container, capacity=None, read_only=false))]
    fn attach(
        py: Python<'_>,
        name: &str,
        record: &str,
        container: &str,
        capacity: Option<u32>,
        read_only: bool,
    ) -> PyResult<Self> {
        let (_, layout) = record_layout(record, container)?;
        let access = if read_only {
            phantom_ringbuf::shm::Access::ReadOnly
        } else {
            phantom_ringbuf::shm::Access::ReadWrite
        };
        segment::Segment::attach_as(name, layout, capacity, access)
            .map(|inner| Segment { inner })
            .map_err(|e| to_py(py, e))
    }

    /// Map `name` without validation (for inspection).
    #[staticmethod]
    fn open_unchecked(py: Python<'_>, name: &str) -> PyResult<Self> {
        segment::Segment::open_unchecked(name)
            .map(|inner| Segment { inner })
            .map_err(|e| to_py(py, e))
    }

    /// Claim ring end `role` ("producer" or "consumer") for this process: refused
    /// (`SegmentError`) while another live process holds it, unless `takeover`.
    #[pyo3(signature = (role, takeover=false))]
    fn claim_end(&self, py: Python<'_>, role: &str, takeover: bool) -> PyResult<()> {
        phantom_ringbuf::ring::claim(&self.inner, ring_end(role)?, takeover)
            .map_err(|e| to_py(py, e))
    }

    /// Give ring end `role` back if this process holds it.
    fn release_end(&self, role: &str) -> PyResult<()> {
        phantom_ringbuf::ring::release(&self.inner, ring_end(role)?);
        Ok(())
    }

    /// Validate the header against `record` in `container` (and `capacity`).
    #[pyo3(signature = (record, container, capacity=None))]
    fn validate(
        &self,
        py: Python<'_>,
        record: &str,
        container: &str,
        capacity: Option<u32>,
    ) -> PyResult<()> {
        let (_, layout) = record_layout(record, container)?;
        self.inner
            .validate(layout, capacity)
            .map_err(|e| to_py(py, e))
    }

    /// Segment name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Bytes mapped.
    #[getter]
    fn size(&self) -> usize {
        self.inner.len()
    }

    /// Address of the first byte (for numba code that takes raw addresses).
    #[getter]
    fn address(&self) -> usize {
        self.inner.as_ptr() as usize
    }

    /// Why mlock failed at creation, or None.
    #[getter]
    fn mlock_error(&self) -> Option<&str> {
        self.inner.mlock_error()
    }

    /// `(live, why)`: whether the segment is in use (DESIGN §3 stale rule).
    #[pyo3(signature = (stale_after_ns=segment::DEFAULT_STALE_AFTER_NS))]
    fn liveness(&self, stale_after_ns: u64) -> (bool, String) {
        match self.inner.liveness(stale_after_ns) {
            Liveness::Live(why) => (true, why),
            Liveness::Stale(why) => (false, why),
        }
    }

    /// Whether another process maps this segment (holds its flock).
    fn held_by_others(&self) -> bool {
        self.inner.held_by_others()
    }

    /// Store the creator heartbeat (CLOCK_MONOTONIC now).
    fn creator_heartbeat(&self) {
        self.inner.creator_heartbeat();
    }

    fn __repr__(&self) -> String {
        format!(
            "Segment(name={:?}, size={})",
            self.inner.name(),
            self.inner.len()
        )
    }

    /// Whether this process may write the mapping.
    #[getter]
    fn writable(&self) -> bool {
        self.inner.writable()
    }

    /// Buffer protocol: the whole mapping as bytes, writable unless mapped read-only.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let (ptr, len, readonly) = {
            let this = slf.get();
            (
                this.inner.as_ptr(),
                this.inner.len(),
                c_int::from(!this.inner.writable()),
            )
        };
        // SAFETY: `view` is the buffer struct CPython passed us; PyBuffer_FillInfo fills it
        // for `len` bytes at `ptr` (read-only when so mapped), which stay mapped while `slf` lives, and takes a
        // reference to `slf` (view->obj) so the exporter outlives every view.
        let rc = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                ptr as *mut c_void,
                len as ffi::Py_ssize_t,
                readonly,
                flags,
            )
        };
        if rc == -1 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

fn fields_of<R: Record>(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", R::ID as u32)?;
    d.set_item("size", R::SIZE)?;
    d.set_item("layout_hash", R::LAYOUT_HASH)?;
    let fields = PyList::empty(py);
    for f in R::FIELDS {
        fields.append(PyTuple::new(
            py,
            [
                f.name.into_pyobject(py)?.into_any(),
                f.dtype.into_pyobject(py)?.into_any(),
                f.count.into_pyobject(py)?.into_any(),
                f.offset.into_pyobject(py)?.into_any(),
                f.elem_size.into_pyobject(py)?.into_any(),
                f.doc.trim().into_pyobject(py)?.into_any(),
            ],
        )?)?;
    }
    d.set_item("fields", fields)?;
    Ok(d)
}

/// Every record's field table: `{name: {"id", "size", "layout_hash", "fields": [(name,
/// dtype, count, offset, elem_size, doc), ...]}}`.
#[pyfunction]
fn schema(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("SegmentHeader", fields_of::<SegmentHeader>(py)?)?;
    d.set_item("MarketUpdate", fields_of::<MarketUpdate>(py)?)?;
    d.set_item("PoolState", fields_of::<PoolState>(py)?)?;
    d.set_item("OrderIntent", fields_of::<OrderIntent>(py)?)?;
    d.set_item("ExecReport", fields_of::<ExecReport>(py)?)?;
    d.set_item("SupervisorBlock", fields_of::<SupervisorBlock>(py)?)?;
    d.set_item("FeederBlock", fields_of::<FeederBlock>(py)?)?;
    d.set_item("SignerBlock", fields_of::<SignerBlock>(py)?)?;
    d.set_item("StrategyBlock", fields_of::<StrategyBlock>(py)?)?;
    d.set_item("ProbeRecord", fields_of::<ProbeRecord>(py)?)?;
    Ok(d)
}

/// The named constants, by group: `{group: {NAME: value}}`, taken from the Rust groups
/// ([`CONSTANT_GROUPS`], the ring's wait tables, the reject reasons), plus
/// `{"_prefix": {group: PREFIX}}`, the Python-side prefix of each group's names.
#[pyfunction]
fn constants(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    use phantom_ringbuf::learn::learned_default;
    use phantom_ringbuf::records::reject_reason;
    use phantom_ringbuf::ring::{adaptive_default, wait_kind, wait_step};
    let out = PyDict::new(py);
    let prefixes = PyDict::new(py);
    let wait_groups: [rschema::ConstantGroup; 4] = [
        ("wait_kind", "WAIT", wait_kind::NAMES),
        ("wait_step", "WAIT_STEP", wait_step::NAMES),
        ("adaptive_default", "ADAPTIVE", adaptive_default::NAMES),
        ("learned_default", "LEARNED", learned_default::NAMES),
    ];
    for (group, prefix, items) in CONSTANT_GROUPS.iter().chain(wait_groups.iter()) {
        let d = PyDict::new(py);
        for (name, value) in *items {
            d.set_item(*name, *value)?;
        }
        out.set_item(*group, d)?;
        prefixes.set_item(*group, *prefix)?;
    }
    let reasons = PyDict::new(py);
    for (code, name) in reject_reason::ALL {
        reasons.set_item(name, code)?;
    }
    out.set_item("reject_reason", reasons)?;
    out.set_item("_prefix", prefixes)?;
    Ok(out)
}

/// The programs the engine knows, `{NAME: base58 address}` ([`phantom_ringbuf::programs`]).
#[pyfunction]
fn program_ids(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for (name, address) in phantom_ringbuf::programs::ALL {
        d.set_item(name, address)?;
    }
    Ok(d)
}

/// The Whirlpool program's sqrt-price bounds (Q64.64), `(min, max)`: the price limits of
/// swaps bounded only by the pool ([`phantom_ringbuf::programs`]).
#[pyfunction]
fn whirlpool_sqrt_price_bounds() -> (u128, u128) {
    (
        phantom_ringbuf::programs::WHIRLPOOL_MIN_SQRT_PRICE_X64,
        phantom_ringbuf::programs::WHIRLPOOL_MAX_SQRT_PRICE_X64,
    )
}

/// The [`wait_step`](phantom_ringbuf::ring::wait_step) the Rust adaptive wait takes after
/// its `i`-th empty check (compared with numba's `ringops.adaptive_step` by the tests).
#[pyfunction]
fn adaptive_step(i: u64, spin_iters: u32, yield_iters: u32) -> u32 {
    phantom_ringbuf::ring::adaptive_step(i, spin_iters, yield_iters)
}

/// The learned wait's choice after each of `gaps` (ns), from an empty histogram, with Rust's
/// [`GapLearner`](phantom_ringbuf::learn::GapLearner) (compared with numba's
/// `ringops.learn_gap` by the tests).
#[pyfunction]
fn learned_windows(gaps: Vec<u64>, max_spin_ns: u64, wake_cost_ns: u64) -> Vec<u64> {
    let mut l = phantom_ringbuf::learn::GapLearner::new();
    gaps.into_iter()
        .map(|g| {
            l.observe(g, max_spin_ns, wake_cost_ns);
            l.window_ns()
        })
        .collect()
}

/// The Landlock ABI this kernel offers (0: none).
#[pyfunction]
fn landlock_abi() -> i32 {
    sandbox::abi()
}

/// Restrict this process with Landlock: files only beneath `read` (read, execute) and
/// `read_write`, no TCP, signals and abstract sockets only within the sandbox. Returns the
/// kernel's ABI; `OSError` when it cannot be fully enforced. Irreversible.
#[pyfunction]
fn sandbox_filesystem(
    read: Vec<std::path::PathBuf>,
    read_write: Vec<std::path::PathBuf>,
) -> PyResult<i32> {
    let read: Vec<&std::path::Path> = read.iter().map(|p| p.as_path()).collect();
    let rw: Vec<&std::path::Path> = read_write.iter().map(|p| p.as_path()).collect();
    sandbox::restrict_filesystem(&read, &rw).map_err(pyo3::exceptions::PyOSError::new_err)
}

/// Install the seccomp filters on every thread (no sockets, io_uring, ptrace,
/// `process_vm_*`, x32/ia32 system calls). Irreversible.
#[pyfunction]
fn sandbox_syscalls() -> PyResult<()> {
    sandbox::deny_syscalls().map_err(pyo3::exceptions::PyOSError::new_err)
}

/// Segment name of `role` for `instance` (`phantom-<instance>-<role>`).
#[pyfunction]
fn segment_name(instance: &str, role: &str) -> String {
    names::segment_name(instance, role)
}

/// Check an instance name; `ValueError` says what is wrong with it.
#[pyfunction]
fn validate_instance(instance: &str) -> PyResult<()> {
    names::validate_instance(instance).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `(instance, role)` of an instance's segment name, or `None`.
#[pyfunction]
fn parse_segment_name(name: &str) -> Option<(String, String)> {
    names::parse_segment_name(name).map(|(i, r)| (i.to_string(), r.to_string()))
}

/// Names of instance `instance`'s segments, matched exactly (never another instance whose
/// name starts with it).
#[pyfunction]
fn instance_segments(py: Python<'_>, instance: &str) -> PyResult<Vec<String>> {
    segment::list_instance(instance).map_err(|e| to_py(py, e))
}

/// Remove the stale segments of `instance` (exactly), or of every instance when `None`:
/// `(removed, [(kept, why), ...])`.
#[pyfunction]
#[pyo3(signature = (instance, stale_after_ns=segment::DEFAULT_STALE_AFTER_NS))]
#[allow(clippy::type_complexity)]
fn clean_instance(
    py: Python<'_>,
    instance: Option<&str>,
    stale_after_ns: u64,
) -> PyResult<(Vec<String>, Vec<(String, String)>)> {
    segment::clean_stale_instance(instance, stale_after_ns).map_err(|e| to_py(py, e))
}

/// `record_kind` header value for a record name and container.
#[pyfunction]
fn record_kind(record: &str, container: &str) -> PyResult<u32> {
    Ok(record_layout(record, container)?.1.record_kind)
}

/// Human description of a `record_kind` value.
#[pyfunction]
fn describe_record_kind(kind: u32) -> String {
    rschema::describe_record_kind(kind)
}

/// CLOCK_MONOTONIC in ns (the clock of every record timestamp).
#[pyfunction]
fn monotonic_ns() -> u64 {
    clock::monotonic_ns()
}

/// Set SIGTERM as this process's death signal, then check that its parent is
/// `supervisor_pid`; raises OSError (naming why) when it is not, or when prctl fails.
#[pyfunction]
fn die_with_supervisor(supervisor_pid: u32) -> PyResult<()> {
    phantom_ringbuf::process::die_with_supervisor(supervisor_pid)
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))
}

/// Start time of `pid` in clock ticks since boot, or None.
#[pyfunction]
fn process_start_time(pid: u32) -> Option<u64> {
    clock::process_start_time(pid)
}

/// Remove segment `name` unconditionally.
#[pyfunction]
fn remove_segment(py: Python<'_>, name: &str) -> PyResult<()> {
    segment::remove(name).map_err(|e| to_py(py, e))
}

/// Remove `name` if stale; raises SegmentLiveError if live. Returns why it was stale.
#[pyfunction]
#[pyo3(signature = (name, stale_after_ns=segment::DEFAULT_STALE_AFTER_NS))]
fn remove_if_stale(py: Python<'_>, name: &str, stale_after_ns: u64) -> PyResult<String> {
    segment::remove_if_stale(name, stale_after_ns).map_err(|e| to_py(py, e))
}

/// Remove every stale segment starting with `prefix`: `(removed, [(kept, why), ...])`.
#[pyfunction]
#[pyo3(signature = (prefix, stale_after_ns=segment::DEFAULT_STALE_AFTER_NS))]
#[allow(clippy::type_complexity)]
fn clean_stale(
    py: Python<'_>,
    prefix: &str,
    stale_after_ns: u64,
) -> PyResult<(Vec<String>, Vec<(String, String)>)> {
    segment::clean_stale(prefix, stale_after_ns).map_err(|e| to_py(py, e))
}

/// Names of segments in /dev/shm starting with `prefix`.
#[pyfunction]
fn list_segments(py: Python<'_>, prefix: &str) -> PyResult<Vec<String>> {
    segment::list(prefix).map_err(|e| to_py(py, e))
}

/// The schema's layout hash of a field table, for the Python side to cross-check its dtype.
#[pyfunction]
fn layout_hash(fields: Vec<(String, String, u32, u32)>, size: usize) -> u64 {
    rschema::layout_hash_of(
        fields
            .iter()
            .map(|(n, d, c, o)| (n.as_str(), d.as_str(), *c, *o)),
        size,
    )
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Segment>()?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(constants, m)?)?;
    m.add_function(wrap_pyfunction!(program_ids, m)?)?;
    m.add_function(wrap_pyfunction!(whirlpool_sqrt_price_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(landlock_abi, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_filesystem, m)?)?;
    m.add_function(wrap_pyfunction!(sandbox_syscalls, m)?)?;
    m.add_function(wrap_pyfunction!(adaptive_step, m)?)?;
    m.add_function(wrap_pyfunction!(learned_windows, m)?)?;
    m.add_function(wrap_pyfunction!(segment_name, m)?)?;
    m.add_function(wrap_pyfunction!(validate_instance, m)?)?;
    m.add_function(wrap_pyfunction!(parse_segment_name, m)?)?;
    m.add_function(wrap_pyfunction!(instance_segments, m)?)?;
    m.add_function(wrap_pyfunction!(clean_instance, m)?)?;
    m.add_function(wrap_pyfunction!(record_kind, m)?)?;
    m.add_function(wrap_pyfunction!(describe_record_kind, m)?)?;
    m.add_function(wrap_pyfunction!(monotonic_ns, m)?)?;
    m.add_function(wrap_pyfunction!(process_start_time, m)?)?;
    m.add_function(wrap_pyfunction!(die_with_supervisor, m)?)?;
    m.add_function(wrap_pyfunction!(remove_segment, m)?)?;
    m.add_function(wrap_pyfunction!(remove_if_stale, m)?)?;
    m.add_function(wrap_pyfunction!(clean_stale, m)?)?;
    m.add_function(wrap_pyfunction!(list_segments, m)?)?;
    m.add_function(wrap_pyfunction!(layout_hash, m)?)?;
    m.add("SegmentError", py.get_type::<SegmentError_>())?;
    m.add("SchemaMismatchError", py.get_type::<SchemaMismatchError>())?;
    m.add(
        "SegmentTruncatedError",
        py.get_type::<SegmentTruncatedError>(),
    )?;
    m.add(
        "SegmentNotFoundError",
        py.get_type::<SegmentNotFoundError>(),
    )?;
    m.add("SegmentExistsError", py.get_type::<SegmentExistsError>())?;
    m.add("SegmentLiveError", py.get_type::<SegmentLiveError>())?;
    m.add("MAGIC", MAGIC)?;
    m.add("ABI_VERSION", ABI_VERSION)?;
    m.add("HEADER_SIZE", HEADER_SIZE)?;
    m.add("TAIL_OFFSET", TAIL_OFFSET)?;
    m.add("HEAD_OFFSET", HEAD_OFFSET)?;
    m.add("WAITER_OFFSET", WAITER_OFFSET)?;
    m.add("DEFAULT_STALE_AFTER_NS", segment::DEFAULT_STALE_AFTER_NS)?;
    m.add("SEGMENT_PREFIX", names::PREFIX)?;
    m.add("ROLES", names::ROLES.to_vec())?;
    m.add("LANDLOCK_MIN_ABI", sandbox::MIN_ABI)?;
    m.add("SANDBOX_DENIED_SYSCALLS", sandbox::denied_names())?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
