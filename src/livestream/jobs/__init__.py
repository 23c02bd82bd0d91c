"""Background work: the job runtime, periodic runs claimed once per period across processes."""
