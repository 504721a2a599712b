pytest_plugins = [
    "tests.fixtures.sshd",
    "tests.fixtures.project",
    "tests.fixtures.smtp",
    "tests.fixtures.spark",
]
