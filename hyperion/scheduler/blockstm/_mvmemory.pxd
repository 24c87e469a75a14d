# Types for compiling mvmemory_py.py as _mvmemory (Cython pure-Python mode; see setup.py).
cimport cython


@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, writer=Py_ssize_t)
cdef Py_ssize_t _position(list versions, Py_ssize_t tx)


cdef class MVMemory:
    cdef public dict entries
    cdef public list written
    cdef public list reads
    cdef public list applied
    cdef public dict codes
    cdef public dict slots_by_address
    cdef public object coinbase

    @cython.locals(versions=list, position=Py_ssize_t, entry=list, slots=set)
    cdef void _put(self, object key, Py_ssize_t tx, object value)

    @cython.locals(versions=list, position=Py_ssize_t)
    cdef void _remove(self, object key, Py_ssize_t tx)

    @cython.locals(keys=list, previous=object, wrote_new=bint, current=set, previous_set=set)
    cpdef bint apply_record(self, Py_ssize_t tx, Py_ssize_t incarnation, dict accounts, dict storage, object wiped,
                            object codes, object coinbase_delta, object reads)

    cpdef void apply_estimate(self, Py_ssize_t tx, Py_ssize_t incarnation)

    @cython.locals(versions=list, position=Py_ssize_t)
    cdef list _latest_below(self, object key, Py_ssize_t tx)

    @cython.locals(found=list)
    cpdef object resolve_account(self, object address, Py_ssize_t tx, object base)

    @cython.locals(found=list, wipe=list)
    cpdef object resolve_storage(self, object address, object slot, Py_ssize_t tx, object base)

    @cython.locals(wipe=list)
    cpdef object resolve_has_storage(self, object address, object excluded, Py_ssize_t tx, object base)

    @cython.locals(blocking=Py_ssize_t, versions=list, position=Py_ssize_t, found_absolute=bint, index=Py_ssize_t)
    cpdef object resolve_coinbase(self, Py_ssize_t tx, object base, object scheduler, object sync)

    cpdef object resolve(self, object key, Py_ssize_t tx, object base, object scheduler, object sync)

    @cython.locals(reads=dict)
    cpdef bint validate(self, Py_ssize_t tx, object base, object scheduler, object sync)


cdef class MVView:
    cdef public MVMemory memory
    cdef public Py_ssize_t tx
    cdef public object base
    cdef public object scheduler
    cdef public object sync
    cdef public dict reads
