"""Names of the schedule instructions the analysis reads in a trace (``inst.kind.name``).

Each name is spelt once, here; MetaSchedule registers them (TVM 0.27's
``InstructionKind.get(name)``). The kinds that the interpreter knows to need
no handling are listed in :data:`tvm_heron.space.handlers.PASSIVE_KINDS`.
"""

#: Samples the factors of a loop split; decision: the factors.
SAMPLE_PERFECT_TILE = "SamplePerfectTile"
#: Samples an index into a list of candidates; decision: the index.
SAMPLE_CATEGORICAL = "SampleCategorical"
#: Samples the loop that a block is computed at; decision: a loop index.
SAMPLE_COMPUTE_LOCATION = "SampleComputeLocation"
#: Samples the factors of a split with a partition position; decision: the factors.
SAMPLE_PARTITIONED_TILE = "SamplePartitionedTile"

SPLIT = "Split"
FUSE = "Fuse"
GET_LOOPS = "GetLoops"
COMPUTE_AT = "ComputeAt"
REVERSE_COMPUTE_AT = "ReverseComputeAt"

PARALLEL = "Parallel"
VECTORIZE = "Vectorize"
BIND = "Bind"
ANNOTATE = "Annotate"

CACHE_READ = "CacheRead"
CACHE_WRITE = "CacheWrite"
STORAGE_ALIGN = "StorageAlign"

#: Marks the end of the design-space instructions; a replay with ``remove_postproc`` stops there.
ENTER_POSTPROC = "EnterPostproc"

#: The sampling instructions whose decisions the constraint model turns into variables.
MODELLED_SAMPLES = frozenset({SAMPLE_PERFECT_TILE, SAMPLE_CATEGORICAL})
