from .gcp_landscape_hook import GCPLandscapeHook

__all__ = ['GCPLandscapeHook']
