# Copyright: litemaas-controller developers
# MIT License
"""The cluster's StorageClasses as role ocp4_workload_litemaas reads them."""

#: the annotations that mark a default StorageClass (the beta one is still honoured by Kubernetes)
_DEFAULT_MARKS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _annotations(storage_class):
    metadata = storage_class.get("metadata") if isinstance(storage_class, dict) else None
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    return annotations if isinstance(annotations, dict) else {}


def default_storage_class(classes):
    """The name of the first of ``classes`` (StorageClass objects) marked as the default, or ``''``.

    A class is marked when either annotation reads ``true`` in any case. Malformed objects are
    skipped.
    """
    for storage_class in classes if isinstance(classes, list) else []:
        annotations = _annotations(storage_class)
        if any(str(annotations.get(mark, "")).lower() == "true" for mark in _DEFAULT_MARKS):
            name = storage_class["metadata"].get("name")
            if isinstance(name, str) and name:
                return name
    return ""


class FilterModule:
    def filters(self):
        return {"default_storage_class": default_storage_class}
