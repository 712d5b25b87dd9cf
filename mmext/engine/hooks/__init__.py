from .gcp_landscape_hook import GCPLandscapeHook
from .snapshot_hook import SnapshotHook

__all__ = ['GCPLandscapeHook', 'SnapshotHook']
