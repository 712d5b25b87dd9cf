from .gcp_landscape_hook import GCPLandscapeHook
from .snapshot_hook import SnapshotHook
from .student_export_hook import StudentExportHook

__all__ = ['GCPLandscapeHook', 'SnapshotHook', 'StudentExportHook']
