"""Install mmext.

``pip install --no-build-isolation -e .`` (what ``tools/setup_env.sh`` runs).
Requirements are read from ``requirements/*.txt``; mmcv, mmdet, mmpretrain and
mmaction2 are listed as ``mim`` extras because mmcv must be built with ops
(see ``tools/setup_env.sh``).
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup


def readme() -> str:
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def version() -> str:
    scope: dict = {}
    with open('mmext/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Requirement lines of ``fname``, comments and blank lines dropped."""
    reqs = []
    with open(fname, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Copy tools, configs and model-index.yml into ``mmext/.mim``.

    mim looks for ``<package>/.mim/{tools,configs}``. In editable installs
    these are symlinks; in regular installs (``pip install .``) real copies so
    they ship as package data.
    """
    editable = {'develop', 'editable_wheel'} & set(sys.argv)
    mode = 'symlink' if editable else 'copy'
    filenames = ['tools', 'configs', 'model-index.yml']
    repo = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo, 'mmext', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in filenames:
        src = osp.join(repo, name)
        if not osp.exists(src):
            continue
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)


def get_extensions() -> list:
    """mmext's C++/CUDA ops (``mmext/ops/csrc``), if any are present."""
    csrc = osp.join('mmext', 'ops', 'csrc')
    if not osp.isdir(csrc) or os.environ.get('MMEXT_WITH_OPS', '1') == '0':
        return []
    from glob import glob

    import torch
    from torch.utils.cpp_extension import CppExtension, CUDAExtension
    sources = sorted(glob(osp.join(csrc, '**', '*.cpp'), recursive=True))
    cuda_sources = sorted(glob(osp.join(csrc, '**', '*.cu'), recursive=True))
    if not sources:
        return []
    # -fopenmp: at::parallel_for is a header template whose OpenMP pragma is
    # ignored without it (the kernels then run on one thread); the runtime
    # is the libgomp torch already loaded
    extra = {'cxx': ['-O2', '-std=c++20', '-fopenmp']}
    link = ['-fopenmp']
    with_cuda = (torch.cuda.is_available()
                 or os.environ.get('FORCE_CUDA', '0') == '1')
    if with_cuda and cuda_sources:
        extra['nvcc'] = ['-O2', '-std=c++20']
        return [
            CUDAExtension(
                'mmext._ext',
                sources + cuda_sources,
                define_macros=[('MMEXT_WITH_CUDA', None)],
                extra_compile_args=extra,
                extra_link_args=link)
        ]
    return [
        CppExtension(
            'mmext._ext',
            sources,
            extra_compile_args=extra,
            extra_link_args=link)
    ]


if __name__ == '__main__':
    add_mim_extension()
    ext_modules = get_extensions()
    cmdclass = {}
    if ext_modules:
        from torch.utils.cpp_extension import BuildExtension
        cmdclass['build_ext'] = BuildExtension
    setup(
        name='mmext',
        version=version(),
        description='OpenMMLab extension suite: recent vision methods as '
        'drop-in mmpretrain / mmdet / mmaction2 components',
        long_description=readme(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests',
                                        'projects')),
        include_package_data=True,
        package_data={'mmext': ['.mim/**/*', 'ops/csrc/**/*']},
        python_requires='>=3.10',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'mim': parse_requirements('requirements/mminstall.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
        },
        ext_modules=ext_modules,
        cmdclass=cmdclass,
        zip_safe=False)
