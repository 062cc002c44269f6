"""A group: the DingTalk group of a township, a county department or the county.

Its mapping (:mod:`.mappings`, checked by :mod:`.checks`, kept as :mod:`.versions`), its
staging switch and mention policy (:mod:`.staging`, :mod:`.policy`), its health, test send
and routing dry run (:mod:`.health`, :mod:`.testsend`, :mod:`.dryrun`, through the bridge's
:mod:`.channel`), and who is on duty for a unit (:mod:`.duty`).
"""
