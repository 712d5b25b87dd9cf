"""Names of the snapshot files of a teacher's training (EEKD).

Shared by the hook that writes them
(:class:`mmext.engine.hooks.SnapshotHook`) and the distiller that reads them
(:class:`mmext.models.distillers.EEKDDistiller`), so that models never
import from the training engine.
"""

#: File name of a snapshot, ``snapshot_epoch_48.pth`` or
#: ``snapshot_iter_500.pth``: the hook's unit, then the number of completed
#: epochs or iterations.
SNAPSHOT_FILENAME = 'snapshot_{unit}_{n}.pth'
#: Glob matching the snapshots of a directory (any unit).
SNAPSHOT_GLOB = 'snapshot_*.pth'
