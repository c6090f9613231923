from setuptools import find_packages, setup

setup(
    name='nni-rank',
    version='0.1.0',
    description='Ranking-based neural architecture search for Microsoft NNI: zero-cost proxies, NAR, RD-NAS, alpha-NAS',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['nni_rank', 'nni_rank.*']),
    package_data={'nni_rank.resources': ['*.csv.gz', '*.json']},  # the NB201 table of the main job
    install_requires=[
        'nni==3.0',
        'torch==2.14.1',
        'torchvision==0.29.1',
        # torch needs >= 77; 82+ has no pkg_resources, which nnictl and pytorch_lightning import.
        'setuptools>=77.0.3,<82',
        'peewee<4',  # peewee 4 breaks nni.nas.benchmark
        'pytorch-lightning',
        'scikit-learn',
        'scipy',
        'numpy',
        'nas-bench-201',
        'nasbench-pytorch',
        'tqdm',
        'matplotlib',
        'pytest',
        # NNI's PolicyBasedRL needs the tianshou 0.4 / gym API.
        'tianshou==0.4.11', 'gym==0.23.1', 'h5py', 'numba', 'tensorboard',
    ],
    entry_points={'console_scripts': ['nni-rank=nni_rank.cli.main:main']},
)
