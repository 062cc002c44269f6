"""A group: the DingTalk group of a township, a county department or the county.

Its mapping (:mod:`.mappings`, checked by :mod:`.checks`, kept as :mod:`.versions`), its
staging switch and mention policy (:mod:`.staging`, :mod:`.policy`), its health and test
send (:mod:`.health`, :mod:`.testsend`, through the bridge's :mod:`.gateway`), and who is on
duty for a unit (:mod:`.duty`). The routing dry run, which also previews a group's card, is
``miniapp_api.org.dryrun``, beside the routing it calls.
"""
